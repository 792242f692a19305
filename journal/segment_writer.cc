#include "journal/segment_writer.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "journal/page_populate.h"

namespace rpfs::journal {

SegmentWriter::SegmentWriter(std::string path, int fd, uint32_t segment, uint64_t size)
    : path_(std::move(path)), fd_(fd), segment_(segment), flushed_(size), written_behind_(size) {}

SegmentWriter::~SegmentWriter() {
  Flush();
  ::close(fd_);
}

Status SegmentWriter::Create(const std::string& path, const SegmentHeader& header,
                             std::unique_ptr<SegmentWriter>* out) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "create " + path);
  out->reset(new SegmentWriter(path, fd, header.segment, 0));
  uint8_t buf[kSegmentHeaderSize];
  EncodeSegmentHeader(header, buf);
  (*out)->buffer_.assign(reinterpret_cast<char*>(buf), sizeof buf);
  return (*out)->Flush();
}

Status SegmentWriter::OpenForAppend(const std::string& path, uint32_t segment, uint64_t size,
                                    std::unique_ptr<SegmentWriter>* out) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  out->reset(new SegmentWriter(path, fd, segment, size));
  return Status::OK();
}

Status SegmentWriter::Append(const RecordHeader& h, const void* payload, uint64_t* offset) {
  // Flush a full buffer first, so a failed flush rejects this record
  // instead of leaving it half-accepted, and the buffer stays bounded.
  if (buffer_.size() >= kBufferLimit) RPFS_RETURN_IF_ERROR(Flush());
  ReserveBuffer();
  uint8_t header[kRecordHeaderSize];
  EncodeRecordHeader(h, payload, header);
  *offset = size();
  buffer_.append(reinterpret_cast<char*>(header), sizeof header);
  if (h.payload_len > 0) buffer_.append(static_cast<const char*>(payload), h.payload_len);
  return Status::OK();
}

void SegmentWriter::ReserveBuffer() {
  if (buffer_.capacity() >= kBufferReserve) return;
  // Once per segment: room for a full buffer and the record that
  // overflows it, made present in one go (journal/page_populate.h)
  // rather than grown by doubling and faulted in page by page.
  buffer_.reserve(kBufferReserve);
  PopulatePages(buffer_.data(), buffer_.capacity());
}

Status SegmentWriter::AppendMany(const uint8_t* headers, const char* const* bodies,
                                 const uint32_t* lens, size_t n, uint64_t* offset) {
  uint64_t bytes = 0;
  for (size_t k = 0; k < n; ++k) bytes += kRecordHeaderSize + uint64_t{lens[k]};
  if (bytes > kDirectRun) {
    RPFS_RETURN_IF_ERROR(Flush());
    *offset = flushed_;
    return WriteRun(headers, bodies, lens, n, bytes);
  }
  if (buffer_.size() + bytes > kBufferLimit) RPFS_RETURN_IF_ERROR(Flush());
  ReserveBuffer();
  *offset = size();
  for (size_t k = 0; k < n; ++k) {
    buffer_.append(reinterpret_cast<const char*>(headers + k * kRecordHeaderSize), kRecordHeaderSize);
    if (lens[k] > 0) buffer_.append(bodies[k], lens[k]);
  }
  return Status::OK();
}

Status SegmentWriter::WriteRun(const uint8_t* headers, const char* const* bodies,
                               const uint32_t* lens, size_t n, uint64_t bytes) {
  constexpr size_t kIovs = 1024;  // IOV_MAX on Linux
  struct iovec iov[kIovs];
  uint64_t done = 0;
  size_t c = 0;
  for (size_t k = 0; k < n; ++k) {
    if (c + 2 > kIovs) {
      RPFS_RETURN_IF_ERROR(WriteIovecs(iov, c, &done));
      c = 0;
    }
    iov[c++] = {const_cast<uint8_t*>(headers + k * kRecordHeaderSize), kRecordHeaderSize};
    if (lens[k] > 0) iov[c++] = {const_cast<char*>(bodies[k]), lens[k]};
  }
  RPFS_RETURN_IF_ERROR(WriteIovecs(iov, c, &done));
  Wrote(bytes);
  return Status::OK();
}

Status SegmentWriter::WriteIovecs(struct iovec* iov, size_t count, uint64_t* done) {
  size_t first = 0;
  while (first < count) {
    ssize_t w = ::pwritev(fd_, iov + first, static_cast<int>(count - first),
                          static_cast<off_t>(flushed_ + *done));
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      const int err = w < 0 ? errno : EIO;  // 0: nothing written, nothing said
      // Leave no partial record behind.
      if (::ftruncate(fd_, static_cast<off_t>(flushed_)) != 0) {
        return Status::FromErrno(errno, "truncate " + path_ + " after failed write");
      }
      return Status::FromErrno(err, "write " + path_);
    }
    // pwritev may write less than asked: go on from where it stopped.
    uint64_t left = static_cast<uint64_t>(w);
    *done += left;
    while (first < count && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::OK();
}

void SegmentWriter::Wrote(uint64_t bytes) {
  flushed_ += bytes;
  if (flushed_ - written_behind_ >= kWriteBehindBytes) StartWriteBehind();
}

bool SegmentWriter::ReadBuffered(uint64_t offset, size_t n, void* out) const {
  if (offset < flushed_ || offset + n > size()) return false;
  std::memcpy(out, buffer_.data() + (offset - flushed_), n);
  return true;
}

void SegmentWriter::SwapEmptyBuffer(SegmentWriter* other) {
  if (buffer_.empty() && other->buffer_.empty()) buffer_.swap(other->buffer_);
}

Status SegmentWriter::Flush() {
  if (buffer_.empty()) return Status::OK();
  // On a failure the buffer is kept, and retried by the next flush.
  struct iovec one = {buffer_.data(), buffer_.size()};
  uint64_t done = 0;
  RPFS_RETURN_IF_ERROR(WriteIovecs(&one, 1, &done));
  Wrote(buffer_.size());
  buffer_.clear();
  return Status::OK();
}

void SegmentWriter::StartWriteBehind() {
  // Best effort: a write error shows at the fdatasync that makes these
  // bytes durable, which every caller that needs them durable does.
  ::sync_file_range(fd_, static_cast<off_t>(written_behind_),
                    static_cast<off_t>(flushed_ - written_behind_), SYNC_FILE_RANGE_WRITE);
  written_behind_ = flushed_;
}

Status SegmentWriter::Sync() {
  RPFS_RETURN_IF_ERROR(Flush());
  if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
  written_behind_ = flushed_;
  return Status::OK();
}

}  // namespace rpfs::journal
