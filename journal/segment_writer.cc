#include "journal/segment_writer.h"

#include <fcntl.h>
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
  if (buffer_.capacity() < kBufferReserve) {
    // Once per segment: room for a full buffer and the record that
    // overflows it, made present in one go (journal/page_populate.h)
    // rather than grown by doubling and faulted in page by page.
    buffer_.reserve(kBufferReserve);
    PopulatePages(buffer_.data(), buffer_.capacity());
  }
  uint8_t header[kRecordHeaderSize];
  EncodeRecordHeader(h, payload, header);
  *offset = size();
  buffer_.append(reinterpret_cast<char*>(header), sizeof header);
  if (h.payload_len > 0) buffer_.append(static_cast<const char*>(payload), h.payload_len);
  return Status::OK();
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
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::pwrite(fd_, buffer_.data() + done, buffer_.size() - done,
                         static_cast<off_t>(flushed_ + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      // Leave no partial record behind: the buffer is kept and retried.
      if (::ftruncate(fd_, static_cast<off_t>(flushed_)) != 0) {
        return Status::FromErrno(errno, "truncate " + path_ + " after failed write");
      }
      return Status::FromErrno(err, "write " + path_);
    }
    done += static_cast<size_t>(n);
  }
  flushed_ += buffer_.size();
  buffer_.clear();
  if (flushed_ - written_behind_ >= kWriteBehindBytes) StartWriteBehind();
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
