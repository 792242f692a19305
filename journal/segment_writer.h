// SegmentWriter appends framed records to one segment file.
//
// Appends go to an in-memory buffer and reach the file on Flush() (or when
// the buffer fills); Sync() makes everything appended durable. A failed
// flush (ENOSPC) cuts the file back to its last whole record, keeps the
// buffer and reports the error, so the file never holds a torn record that
// a later append would bury. Not thread-safe: Journal serializes access.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>

#include "journal/record_format.h"
#include "journal/status.h"

namespace rpfs::journal {

class SegmentWriter {
 public:
  // Creates `path` (which must not exist) and writes its header, not
  // synced: the caller decides when it must be durable.
  static Status Create(const std::string& path, const SegmentHeader& header,
                       std::unique_ptr<SegmentWriter>* out);
  // Opens an existing, recovered segment for appending at `size`.
  static Status OpenForAppend(const std::string& path, uint32_t segment, uint64_t size,
                              std::unique_ptr<SegmentWriter>* out);
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Appends a record (the crc is computed here). Returns where it starts.
  // Flushes a full buffer first; if that fails nothing is appended.
  Status Append(const RecordHeader& h, const void* payload, uint64_t* offset);

  // Appends n records already framed (headers[k * kRecordHeaderSize] with
  // its crc, then lens[k] bytes at bodies[k]), back to back from *offset.
  // A run of up to kDirectRun bytes is copied into the buffer (flushed
  // first if it would overflow); a longer one goes to the file at once
  // from where its pieces lie (pwritev), after the buffer. If the file
  // write fails, the file is cut back to its last whole record and
  // nothing of the run is appended.
  Status AppendMany(const uint8_t* headers, const char* const* bodies, const uint32_t* lens,
                    size_t n, uint64_t* offset);
  static constexpr uint64_t kDirectRun = 256 << 10;

  // Copies bytes [offset, offset+n) if they are still only in the buffer.
  bool ReadBuffered(uint64_t offset, size_t n, void* out) const;

  // Writes the buffer to the file. Every kWriteBehindBytes so written
  // are handed to the kernel's writeback at once (sync_file_range, not
  // waited for): the next fdatasync (a Sync, the seal) then waits for what
  // came since rather than for a whole segment of dirty pages, which at
  // the end of an import or a burst is the wait nothing overlaps. (Exports
  // sync in the background instead, tools/images/output_file.h, because there the
  // final fsync would otherwise owe the device's cache flush for the whole
  // file; the journal's seals and index flushes fdatasync along the way
  // already, so starting the writes is all that was missing.)
  Status Flush();
  Status Sync();  // Flush + fdatasync
  static constexpr uint64_t kWriteBehindBytes = 8 << 20;

  // Swaps buffers with `other` if both are flushed (empty): a roll hands
  // the sealed segment's buffer to the new one, whose pages are already
  // touched, rather than reserving fresh ones for every segment.
  void SwapEmptyBuffer(SegmentWriter* other);

  int fd() const { return fd_; }
  uint32_t segment() const { return segment_; }
  uint64_t size() const { return flushed_ + buffer_.size(); }
  uint64_t flushed() const { return flushed_; }
  const std::string& path() const { return path_; }

 private:
  SegmentWriter(std::string path, int fd, uint32_t segment, uint64_t size);

  // Hands what was flushed past written_behind_ to writeback, without
  // waiting for it.
  void StartWriteBehind();
  // Reserves (and makes present) the buffer's room, once per segment.
  void ReserveBuffer();
  // Writes the run straight to the file at flushed_ (the buffer empty).
  Status WriteRun(const uint8_t* headers, const char* const* bodies, const uint32_t* lens,
                  size_t n, uint64_t bytes);
  // Writes iov[0, count) at flushed_ + *done, adding to *done what went
  // (short writes continued; iov is consumed); on a failure cuts the file
  // back to flushed_ (no torn record) and says why.
  Status WriteIovecs(struct iovec* iov, size_t count, uint64_t* done);
  // `bytes` more are in the file: flushed_ moves, write-behind as due.
  void Wrote(uint64_t bytes);

  static constexpr size_t kBufferLimit = 1 << 20;
  // Reserved for the buffer: a full one plus a block-sized record.
  static constexpr size_t kBufferReserve = kBufferLimit + (64 << 10);

  std::string path_;
  int fd_;
  uint32_t segment_;
  uint64_t flushed_;    // bytes in the file
  uint64_t written_behind_;  // bytes below this were handed to writeback
  std::string buffer_;  // bytes appended after flushed_
};

}  // namespace rpfs::journal
