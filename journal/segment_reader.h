// SegmentReader reads the records of one segment file, in order, from a
// starting offset. Every length is bounds-checked against the file before
// it is used, and every record's crc is checked. A bad record stops the
// scan with kBad and the reason; the caller decides whether that is a torn
// tail (recovery) or corruption (verify, sealed segments).
//
// ReadRecordAt() is the random-access form used by the read path.
//
// Given the journal's PayloadSealer (an encrypted vault), each reader
// opens sealed payloads and hands back the plaintext: the header with
// kSealed cleared and payload_len the plaintext's. A record whose crc
// matches but whose seal does not open (or that is not sealed) is
// Corruption, never a torn write. Without a sealer the record is handed
// back as stored.
#pragma once

#include <cstdint>
#include <string>

#include "journal/payload_sealer.h"
#include "journal/record_format.h"
#include "journal/status.h"

namespace rpfs::journal {

// Reads and checks the header of the segment open at fd.
Status ReadSegmentHeader(int fd, const std::string& name, SegmentHeader* h);

// Reads the record at offset whose total size (header + payload) the
// caller expects to be `size` (0 = unknown: two reads) into *record
// (header and payload; the payload starts at kRecordHeaderSize). Checks
// the crc. Errors name the segment and offset. Reusing *record across
// calls avoids an allocation per read.
Status ReadRecordAt(int fd, uint32_t segment, uint64_t offset, uint32_t size, RecordHeader* h,
                    std::string* record, const PayloadSealer* sealer = nullptr);

// Like ReadRecordAt for a record whose (plaintext) payload is known to be
// exactly payload_len bytes: the payload lands straight in `payload` (one
// preadv, no bounce copy; a sealed one is opened there in place). The
// read path uses it for stored, uncompressed blocks.
Status ReadRecordInto(int fd, uint32_t segment, uint64_t offset, RecordHeader* h, char* payload,
                      size_t payload_len, const PayloadSealer* sealer = nullptr);

class SegmentReader {
 public:
  enum class Result { kRecord, kEnd, kBad };

  SegmentReader(int fd, uint64_t file_size, uint64_t start_offset,
                const PayloadSealer* sealer = nullptr);

  // On kRecord fills h, payload and the record's offset. On kBad, *why
  // says what is wrong and offset() is where the bad record starts.
  Result Next(RecordHeader* h, std::string* payload, uint64_t* record_offset,
              std::string* why);

  // Offset of the next record to read (after the last good one).
  uint64_t offset() const { return offset_; }
  // True if the last kBad was a whole record (crc matched) whose seal did
  // not open: damage or tampering, never a torn tail to cut.
  bool bad_seal() const { return bad_seal_; }

 private:
  bool Fill(uint64_t offset, size_t n);  // ensures buf_ holds [offset, offset+n)

  int fd_;
  uint64_t file_size_;
  uint64_t offset_;
  std::string buf_;
  uint64_t buf_start_ = 0;
  const PayloadSealer* sealer_;
  bool bad_seal_ = false;
};

}  // namespace rpfs::journal
