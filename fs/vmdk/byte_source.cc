#include "fs/vmdk/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rpfs::fs {
namespace {

class MemorySource : public ByteSource {
 public:
  MemorySource(std::string name, std::string_view bytes)
      : ByteSource(std::move(name)), bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }

 protected:
  Status ReadRaw(uint64_t offset, size_t n, char* out) const override {
    std::memcpy(out, bytes_.data() + offset, n);
    return Status::OK();
  }

 private:
  std::string_view bytes_;
};

class FileSource : public ByteSource {
 public:
  FileSource(std::string name, int fd, uint64_t size)
      : ByteSource(std::move(name)), fd_(fd), size_(size) {}
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }

  uint64_t NextData(uint64_t from) const override {
    if (from >= size_) return size_;
    off_t at = ::lseek(fd_, static_cast<off_t>(from), SEEK_DATA);
    if (at < 0) return errno == ENXIO ? size_ : from;  // ENXIO: a hole to the end
    return static_cast<uint64_t>(at) < size_ ? static_cast<uint64_t>(at) : size_;
  }
  uint64_t NextHole(uint64_t from) const override {
    if (from >= size_) return size_;
    off_t at = ::lseek(fd_, static_cast<off_t>(from), SEEK_HOLE);
    if (at < 0) return size_;  // cannot tell: read on, the zero test finds holes
    return static_cast<uint64_t>(at) < size_ ? static_cast<uint64_t>(at) : size_;
  }
  void Prefetch(uint64_t offset, uint64_t n) const override {
    // Linux reads at most max(readahead size, largest device request) for
    // one WILLNEED and ignores the rest, so ask in pieces of 128 KiB (the
    // default readahead size). A piece already cached costs ~2.5 us.
    constexpr uint64_t kStep = 128 << 10;
    for (uint64_t at = offset; at < offset + n; at += kStep) {
      (void)::posix_fadvise(fd_, static_cast<off_t>(at),
                            static_cast<off_t>(std::min(kStep, offset + n - at)),
                            POSIX_FADV_WILLNEED);
    }
  }

 protected:
  Status ReadRaw(uint64_t offset, size_t n, char* out) const override {
    return ReadFileAt(fd_, offset, n, out);
  }

 private:
  int fd_;
  uint64_t size_;
};

}  // namespace

Status ByteSource::ReadAt(uint64_t offset, size_t n, char* out, std::string_view what) const {
  const uint64_t sz = size();
  if (offset > sz || n > sz - offset) {
    return Status::Corruption(name_ + ": " + std::string(what) + " at offset " +
                              std::to_string(offset) + " (" + std::to_string(n) +
                              " bytes) is past the end of the file (" + std::to_string(sz) +
                              " bytes)");
  }
  return ReadRaw(offset, n, out);
}

Status ByteSource::ReadFileAt(int fd, uint64_t offset, size_t n, char* out) const {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      return Status::FromErrno(errno, "read " + name() + " at offset " +
                                          std::to_string(offset + got));
    }
    if (r == 0) {
      return Status::Corruption(name() + ": file shrank while being read (offset " +
                                std::to_string(offset + got) + ")");
    }
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

std::unique_ptr<ByteSource> NewMemorySource(std::string name, std::string_view bytes) {
  return std::make_unique<MemorySource>(std::move(name), bytes);
}

Status OpenFileSource(const std::string& path, const std::string& name,
                      std::unique_ptr<ByteSource>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == EACCES || err == ENOTDIR || err == EISDIR || err == ELOOP) {
      return Status::InvalidArgument("cannot open " + name + ": " + std::strerror(err));
    }
    return Status::FromErrno(err, "open " + name);
  }
  uint64_t size;
  bool regular;
  Status s = FileOrDeviceSize(fd, name, &size, &regular);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  *out = std::make_unique<FileSource>(name, fd, size);
  return Status::OK();
}

Status FileOrDeviceSize(int fd, const std::string& name, uint64_t* size, bool* regular) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat " + name);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return Status::InvalidArgument(name + " is not a regular file or block device");
  }
  *regular = S_ISREG(st.st_mode);
  *size = static_cast<uint64_t>(st.st_size);
  if (!*regular) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) return Status::FromErrno(errno, "size of " + name);
    *size = static_cast<uint64_t>(end);
  }
  return Status::OK();
}

}  // namespace rpfs::fs
