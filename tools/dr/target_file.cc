#include "tools/dr/target_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "fs/vmdk/byte_source.h"
#include "tools/dr/failback_target.h"

namespace rpfs::tools {
namespace {

std::function<void(std::string_view)>& Hook() {
  static std::function<void(std::string_view)> hook;
  return hook;
}

}  // namespace

void SetFailbackTargetHookForTesting(std::function<void(std::string_view what)> hook) {
  Hook() = std::move(hook);
}

void CallFailbackTargetHook(std::string_view what) {
  if (Hook()) Hook()(what);
}

Status CheckDiskRange(const std::string& name, uint64_t disk_size, uint64_t offset, size_t n,
                      std::string_view op) {
  if (offset <= disk_size && n <= disk_size - offset) return Status::OK();
  return Status::InvalidArgument(name + ": " + std::string(op) + " of " + std::to_string(n) +
                                 " bytes at offset " + std::to_string(offset) +
                                 " is past the end of the disk (" + std::to_string(disk_size) +
                                 " bytes)");
}

Status TargetFile::Open(const std::string& path, const std::string& name,
                        std::unique_ptr<TargetFile>* out) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == EACCES || err == EPERM || err == EROFS || err == ENOTDIR ||
        err == EISDIR || err == ELOOP || err == ETXTBSY) {
      return Status::InvalidArgument("cannot open " + name + " for writing: " +
                                     std::strerror(err));
    }
    return Status::FromErrno(err, "open " + name);
  }
  uint64_t size;
  bool regular;
  Status s = fs::FileOrDeviceSize(fd, name, &size, &regular);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  out->reset(new TargetFile(name, fd, size, regular));
  return Status::OK();
}

TargetFile::~TargetFile() { ::close(fd_); }

Status TargetFile::ReadRaw(uint64_t offset, size_t n, char* out) const {
  return ReadFileAt(fd_, offset, n, out);
}

Status TargetFile::WriteAt(uint64_t offset, const char* data, size_t n, std::string_view what) {
  if (offset > uint64_t{INT64_MAX} || n > uint64_t{INT64_MAX} - offset) {
    return Status::InvalidArgument(name() + ": " + std::string(what) + " at offset " +
                                   std::to_string(offset) + " is past any file's end");
  }
  CallFailbackTargetHook(what);
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd_, data + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      return Status::FromErrno(errno, "write " + name() + ": " + std::string(what) +
                                          " at offset " + std::to_string(offset + done));
    }
    done += static_cast<size_t>(w);
  }
  if (offset + n > size_) size_ = offset + n;
  return Status::OK();
}

Status TargetFile::Extend(uint64_t size, std::string_view what) {
  if (size <= size_) return Status::OK();
  if (!regular_) {
    return Status::InvalidArgument(name() + ": " + std::string(what) + " at offset " +
                                   std::to_string(size_) +
                                   ": a block device cannot grow");
  }
  if (size > uint64_t{INT64_MAX}) {
    return Status::InvalidArgument(name() + ": " + std::string(what) + " would end at offset " +
                                   std::to_string(size) + ", past any file's end");
  }
  CallFailbackTargetHook(what);
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return Status::FromErrno(errno, "extend " + name() + " to " + std::to_string(size) +
                                        " bytes for " + std::string(what));
  }
  size_ = size;
  return Status::OK();
}

Status TargetFile::DataSync() {
  CallFailbackTargetHook("sync");
  if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + name());
  return Status::OK();
}

}  // namespace rpfs::tools
