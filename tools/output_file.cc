#include "tools/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rpfs::tools {
namespace {

constexpr size_t kAppendBufferBytes = size_t{1} << 20;

Status WriteFully(int fd, uint64_t offset, const char* data, size_t n, const std::string& name) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, data + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      return Status::FromErrno(errno, "write " + name + " at offset " +
                                          std::to_string(offset + done));
    }
    done += static_cast<size_t>(w);
  }
  return Status::OK();
}

}  // namespace

std::string DirName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Status OutputFile::Create(const std::string& path, std::unique_ptr<OutputFile>* out) {
  if (path.empty() || path.back() == '/') {
    return Status::InvalidArgument("output path '" + path + "' names no file");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("cannot write " + path + ": it is a directory");
  }
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::InvalidArgument("cannot create " + tmp + ": " + std::strerror(errno));
  }
  out->reset(new OutputFile(path, fd));
  return Status::OK();
}

OutputFile::OutputFile(std::string path, int fd)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp"), fd_(fd) {}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status OutputFile::WriteAt(uint64_t offset, const void* data, size_t n) {
  RPFS_RETURN_IF_ERROR(WriteFully(fd_, offset, static_cast<const char*>(data), n, tmp_path_));
  if (write_behind_ && n > 0) {
    behind_from_ = std::min(behind_from_, offset);
    behind_to_ = std::max(behind_to_, offset + n);
    behind_bytes_ += n;
    if (behind_bytes_ >= kWriteBehindBytes) {
      // Only a hint: an error here comes back from Commit's fsync.
      ::sync_file_range(fd_, static_cast<off64_t>(behind_from_),
                        static_cast<off64_t>(behind_to_ - behind_from_), SYNC_FILE_RANGE_WRITE);
      behind_from_ = UINT64_MAX;
      behind_to_ = behind_bytes_ = 0;
    }
  }
  return Status::OK();
}

Status OutputFile::Append(const void* data, size_t n) {
  if (buffer_.size() + n > kAppendBufferBytes) {
    RPFS_RETURN_IF_ERROR(Flush());
    if (n >= kAppendBufferBytes) {  // big pieces skip the copy
      RPFS_RETURN_IF_ERROR(WriteAt(append_at_, data, n));
      append_at_ += n;
      return Status::OK();
    }
  }
  if (buffer_.capacity() < kAppendBufferBytes) buffer_.reserve(kAppendBufferBytes);
  buffer_.append(static_cast<const char*>(data), n);
  return Status::OK();
}

Status OutputFile::AppendZeros(size_t n) {
  static const char kZeros[4096] = {};
  while (n > 0) {
    size_t take = std::min(n, sizeof kZeros);
    RPFS_RETURN_IF_ERROR(Append(kZeros, take));
    n -= take;
  }
  return Status::OK();
}

Status OutputFile::SetAppendOffset(uint64_t offset) {
  RPFS_RETURN_IF_ERROR(Flush());
  append_at_ = offset;
  return Status::OK();
}

Status OutputFile::Flush() {
  if (buffer_.empty()) return Status::OK();
  RPFS_RETURN_IF_ERROR(WriteAt(append_at_, buffer_.data(), buffer_.size()));
  append_at_ += buffer_.size();
  buffer_.clear();
  return Status::OK();
}

Status OutputFile::Truncate(uint64_t size) {
  RPFS_RETURN_IF_ERROR(Flush());
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return Status::FromErrno(errno, "set the size of " + tmp_path_ + " to " + std::to_string(size));
  }
  return Status::OK();
}

Status OutputFile::Commit() {
  RPFS_RETURN_IF_ERROR(Flush());
  if (::fsync(fd_) != 0) return Status::FromErrno(errno, "fsync " + tmp_path_);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return Status::FromErrno(errno, "close " + tmp_path_);
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + tmp_path_ + " to " + path_);
  }
  committed_ = true;
  // The rename is durable once the directory is.
  std::string dir = DirName(path_);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

}  // namespace rpfs::tools
