#include "tools/images/output_file.h"

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
  StopSyncer();
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status OutputFile::WriteAt(uint64_t offset, const void* data, size_t n) {
  RPFS_RETURN_IF_ERROR(WriteFully(fd_, offset, static_cast<const char*>(data), n, tmp_path_));
  if (sync_step_ == 0 || n == 0) return Status::OK();
  unsynced_bytes_ += n;
  if (unsynced_bytes_ < sync_step_) return Status::OK();
  unsynced_bytes_ = 0;
  std::lock_guard<std::mutex> l(sync_mu_);
  if (!sync_status_.ok()) return sync_status_;
  if (!syncer_.joinable()) syncer_ = std::thread([this] { SyncerLoop(); });
  sync_wanted_ = true;  // a sync still running takes this one along when it is done
  sync_cv_.notify_one();
  return Status::OK();
}

void OutputFile::SyncerLoop() {
  std::unique_lock<std::mutex> l(sync_mu_);
  for (;;) {
    sync_cv_.wait(l, [&] { return sync_wanted_ || sync_stop_; });
    if (sync_stop_) return;
    sync_wanted_ = false;
    l.unlock();
    // Off the lock: the writer goes on writing meanwhile.
    Status s;
    if (::fdatasync(fd_) != 0) s = Status::FromErrno(errno, "fdatasync " + tmp_path_);
    // What is durable now is dropped from the page cache: nobody reads an
    // export's pages again, and the writes that follow reuse the memory.
    if (s.ok()) (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
    l.lock();
    ++syncs_done_;
    // The kernel reports a writeback error to one sync of the file only:
    // kept here, for Commit.
    if (!s.ok() && sync_status_.ok()) sync_status_ = s;
  }
}

Status OutputFile::StopSyncer() {
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    if (!syncer_.joinable()) return sync_status_;
    sync_stop_ = true;
    sync_cv_.notify_one();
  }
  syncer_.join();
  std::lock_guard<std::mutex> l(sync_mu_);
  return sync_status_;
}

uint64_t OutputFile::background_syncs() const {
  std::lock_guard<std::mutex> l(sync_mu_);
  return syncs_done_;
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

Status OutputFile::CommitAppended(uint64_t* size) {
  const uint64_t end = append_offset();
  RPFS_RETURN_IF_ERROR(Truncate(end));
  RPFS_RETURN_IF_ERROR(Commit());
  *size = end;
  return Status::OK();
}

Status OutputFile::Commit() {
  RPFS_RETURN_IF_ERROR(Flush());
  RPFS_RETURN_IF_ERROR(StopSyncer());
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
