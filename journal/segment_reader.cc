#include "journal/segment_reader.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include <cerrno>

#include "journal/coding.h"
#include "journal/crc32c.h"

namespace rpfs::journal {
namespace {

Status PreadFully(int fd, void* buf, size_t n, uint64_t offset, size_t* got) {
  *got = 0;
  auto* p = static_cast<char*>(buf);
  while (*got < n) {
    ssize_t r = ::pread(fd, p + *got, n - *got, static_cast<off_t>(offset + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read");
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::OK();
}

std::string Where(const std::string& name, uint64_t offset) {
  return "segment " + name + " offset " + std::to_string(offset);
}

}  // namespace

Status ReadSegmentHeader(int fd, const std::string& name, SegmentHeader* h) {
  uint8_t buf[kSegmentHeaderSize];
  size_t got;
  RPFS_RETURN_IF_ERROR(PreadFully(fd, buf, sizeof buf, 0, &got));
  if (got < sizeof buf) return Status::Corruption(Where(name, 0) + ": segment header truncated");
  std::string why;
  if (!DecodeSegmentHeader(buf, h, &why)) return Status::Corruption(Where(name, 0) + ": " + why);
  return Status::OK();
}

Status ReadRecordAt(int fd, uint32_t segment, uint64_t offset, uint32_t size, RecordHeader* h,
                    std::string* record, const PayloadSealer* sealer) {
  auto where = [&] { return Where(SegmentFileName(segment), offset); };
  std::string& buf = *record;
  size_t want = size >= kRecordHeaderSize ? size : kRecordHeaderSize;
  buf.resize(want);
  size_t got;
  Status s = PreadFully(fd, buf.data(), want, offset, &got);
  if (!s.ok()) return Status::IOError(where() + ": " + s.message());
  if (got < kRecordHeaderSize) return Status::Corruption(where() + ": record truncated");
  std::string why;
  if (!DecodeRecordHeader(reinterpret_cast<const uint8_t*>(buf.data()), h, &why)) {
    return Status::Corruption(where() + ": " + why);
  }
  size_t total = kRecordHeaderSize + h->payload_len;
  if (total != want) {
    if (size != 0) {
      return Status::Corruption(where() + ": record length " + std::to_string(total) +
                                " does not match the index (" + std::to_string(size) + ")");
    }
    buf.resize(total);
    s = PreadFully(fd, buf.data() + kRecordHeaderSize, h->payload_len, offset + kRecordHeaderSize,
                   &got);
    if (!s.ok()) return Status::IOError(where() + ": " + s.message());
    if (got < h->payload_len) return Status::Corruption(where() + ": record truncated");
    got = total;
  }
  if (got < total) return Status::Corruption(where() + ": record truncated");
  const auto* hdr = reinterpret_cast<const uint8_t*>(buf.data());
  if (!RecordCrcMatches(hdr, hdr + kRecordHeaderSize, h->payload_len)) {
    return Status::Corruption(where() + ": record checksum mismatch");
  }
  if (sealer != nullptr) return OpenRecordInPlace(sealer, where(), h, record);
  return Status::OK();
}

namespace {

// ReadRecordInto for a sealed record: the nonce and tag are read apart
// and the ciphertext straight into `payload`, where it is opened.
Status ReadSealedInto(int fd, uint32_t segment, uint64_t offset, RecordHeader* h, char* payload,
                      size_t payload_len, const PayloadSealer* sealer) {
  auto where = [&] { return Where(SegmentFileName(segment), offset); };
  uint8_t hdr[kRecordHeaderSize], nonce[kSealNonceSize], tag[kSealTagSize];
  struct iovec iov[4] = {
      {hdr, sizeof hdr}, {nonce, sizeof nonce}, {payload, payload_len}, {tag, sizeof tag}};
  const size_t want = sizeof hdr + payload_len + kSealOverhead;
  ssize_t got;
  do {
    got = ::preadv(fd, iov, 4, static_cast<off_t>(offset));
  } while (got < 0 && errno == EINTR);
  if (got < 0) return Status::FromErrno(errno, where());
  if (static_cast<size_t>(got) < want) {
    std::string record;  // short read (rare): fall back
    RPFS_RETURN_IF_ERROR(
        ReadRecordAt(fd, segment, offset, static_cast<uint32_t>(want), h, &record, sealer));
    std::memcpy(payload, record.data() + kRecordHeaderSize, payload_len);
    return Status::OK();
  }
  std::string why;
  if (!DecodeRecordHeader(hdr, h, &why)) return Status::Corruption(where() + ": " + why);
  if (h->payload_len != payload_len + kSealOverhead) {
    return Status::Corruption(where() + ": record length does not match the index");
  }
  uint32_t crc = crc32c::Value(hdr + 4, sizeof hdr - 4);
  crc = crc32c::Extend(crc, nonce, sizeof nonce);
  crc = crc32c::Extend(crc, payload, payload_len);
  crc = crc32c::Extend(crc, tag, sizeof tag);
  if (crc32c::Unmask(GetLE32(hdr)) != crc) {
    return Status::Corruption(where() + ": record checksum mismatch");
  }
  if (!(h->flags & kSealed)) {
    return Status::Corruption(where() + ": record not sealed in an encrypted vault");
  }
  auto* text = reinterpret_cast<uint8_t*>(payload);
  if (!sealer->OpenParts(*h, nonce, text, payload_len, tag, text)) {
    return Status::Corruption(where() + ": record seal does not open (damaged or altered payload)");
  }
  *h = PlainHeader(*h);
  return Status::OK();
}

}  // namespace

Status ReadRecordInto(int fd, uint32_t segment, uint64_t offset, RecordHeader* h, char* payload,
                      size_t payload_len, const PayloadSealer* sealer) {
  if (sealer != nullptr) return ReadSealedInto(fd, segment, offset, h, payload, payload_len, sealer);
  auto where = [&] { return Where(SegmentFileName(segment), offset); };
  uint8_t hdr[kRecordHeaderSize];
  struct iovec iov[2] = {{hdr, sizeof hdr}, {payload, payload_len}};
  const size_t want = sizeof hdr + payload_len;
  ssize_t got;
  do {
    got = ::preadv(fd, iov, 2, static_cast<off_t>(offset));
  } while (got < 0 && errno == EINTR);
  if (got < 0) return Status::FromErrno(errno, where());
  if (static_cast<size_t>(got) < want) {
    // Short read (rare: signals, or a truncated file): fall back.
    std::string record;
    RPFS_RETURN_IF_ERROR(ReadRecordAt(fd, segment, offset, static_cast<uint32_t>(want), h, &record));
    std::memcpy(payload, record.data() + kRecordHeaderSize, payload_len);
    return Status::OK();
  }
  std::string why;
  if (!DecodeRecordHeader(hdr, h, &why)) return Status::Corruption(where() + ": " + why);
  if (h->payload_len != payload_len) {
    return Status::Corruption(where() + ": record length does not match the index");
  }
  if (!RecordCrcMatches(hdr, payload, payload_len)) {
    return Status::Corruption(where() + ": record checksum mismatch");
  }
  return Status::OK();
}

SegmentReader::SegmentReader(int fd, uint64_t file_size, uint64_t start_offset,
                             const PayloadSealer* sealer)
    : fd_(fd), file_size_(file_size), offset_(start_offset), sealer_(sealer) {}

bool SegmentReader::Fill(uint64_t offset, size_t n) {
  if (offset >= buf_start_ && offset + n <= buf_start_ + buf_.size()) return true;
  size_t want = n < (1u << 20) ? (1u << 20) : n;
  if (offset + want > file_size_) want = static_cast<size_t>(file_size_ - offset);
  if (want < n) return false;
  buf_.resize(want);
  size_t got;
  if (!PreadFully(fd_, buf_.data(), want, offset, &got).ok() || got < n) {
    buf_.clear();
    return false;
  }
  buf_.resize(got);
  buf_start_ = offset;
  return true;
}

SegmentReader::Result SegmentReader::Next(RecordHeader* h, std::string* payload,
                                          uint64_t* record_offset, std::string* why) {
  bad_seal_ = false;
  if (offset_ >= file_size_) return Result::kEnd;
  if (file_size_ - offset_ < kRecordHeaderSize) {
    *why = "torn record header (" + std::to_string(file_size_ - offset_) + " bytes)";
    return Result::kBad;
  }
  if (!Fill(offset_, kRecordHeaderSize)) {
    *why = "cannot read record header";
    return Result::kBad;
  }
  const auto* hdr = reinterpret_cast<const uint8_t*>(buf_.data() + (offset_ - buf_start_));
  if (!DecodeRecordHeader(hdr, h, why)) return Result::kBad;
  uint64_t total = kRecordHeaderSize + uint64_t{h->payload_len};
  if (total > file_size_ - offset_) {
    *why = "record of " + std::to_string(total) + " bytes runs past the end of the segment";
    return Result::kBad;
  }
  if (!Fill(offset_, total)) {
    *why = "cannot read record";
    return Result::kBad;
  }
  hdr = reinterpret_cast<const uint8_t*>(buf_.data() + (offset_ - buf_start_));
  if (!RecordCrcMatches(hdr, hdr + kRecordHeaderSize, h->payload_len)) {
    *why = "record checksum mismatch";
    return Result::kBad;
  }
  const uint8_t* stored = hdr + kRecordHeaderSize;
  if (sealer_ == nullptr) {
    payload->assign(reinterpret_cast<const char*>(stored), h->payload_len);
  } else {
    const RecordHeader plain = PlainHeader(*h);
    payload->resize(plain.payload_len);
    if (!(h->flags & kSealed) || h->payload_len < kSealOverhead ||
        !sealer_->Open(*h, stored, reinterpret_cast<uint8_t*>(payload->data()))) {
      *why = h->flags & kSealed ? "record seal does not open (damaged or altered payload)"
                                : "record not sealed in an encrypted vault";
      bad_seal_ = true;
      return Result::kBad;
    }
    *h = plain;
  }
  *record_offset = offset_;
  offset_ += total;
  return Result::kRecord;
}

}  // namespace rpfs::journal
