#include "journal/record_format.h"

#include <cstdio>
#include <cstring>

#include "journal/coding.h"
#include "journal/crc32c.h"

namespace rpfs::journal {

std::string VaultId::ToHex() const {
  std::string s;
  char buf[3];
  for (uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]) {
  std::memset(out, 0, kSegmentHeaderSize);
  std::memcpy(out, kSegmentMagic, 8);
  PutLE32(out + 8, h.version);
  PutLE32(out + 12, h.segment);
  std::memcpy(out + 16, h.vault_id.bytes, 16);
  PutLE64(out + 32, h.first_seq);
  PutLE32(out + 60, crc32c::Mask(crc32c::Value(out, 60)));
}

bool DecodeSegmentHeader(const uint8_t in[kSegmentHeaderSize], SegmentHeader* h,
                         std::string* why) {
  if (std::memcmp(in, kSegmentMagic, 8) != 0) {
    *why = "bad segment magic";
    return false;
  }
  if (crc32c::Unmask(GetLE32(in + 60)) != crc32c::Value(in, 60)) {
    *why = "segment header checksum mismatch";
    return false;
  }
  h->version = GetLE32(in + 8);
  if (h->version != kFormatVersion) {
    *why = "unsupported segment format version " + std::to_string(h->version);
    return false;
  }
  h->segment = GetLE32(in + 12);
  std::memcpy(h->vault_id.bytes, in + 16, 16);
  h->first_seq = GetLE64(in + 32);
  return true;
}

namespace {
uint32_t RecordCrc(const uint8_t header[kRecordHeaderSize], const void* payload,
                   size_t payload_len) {
  uint32_t crc = crc32c::Value(header + 4, kRecordHeaderSize - 4);
  return crc32c::Extend(crc, payload, payload_len);
}
}  // namespace

void EncodeRecordHeader(const RecordHeader& h, const void* payload,
                        uint8_t out[kRecordHeaderSize]) {
  out[4] = static_cast<uint8_t>(h.type);
  out[5] = h.flags;
  out[6] = out[7] = 0;
  PutLE32(out + 8, h.payload_len);
  PutLE32(out + 12, h.length);
  PutLE64(out + 16, h.seq);
  PutLE64(out + 24, h.time_ns);
  PutLE32(out + 32, h.disk);
  PutLE32(out + 36, h.branch);
  PutLE64(out + 40, h.offset);
  PutLE32(out, crc32c::Mask(RecordCrc(out, payload, h.payload_len)));
}

bool DecodeRecordHeader(const uint8_t in[kRecordHeaderSize], RecordHeader* h,
                        std::string* why) {
  uint8_t type = in[4];
  if (type != static_cast<uint8_t>(RecordType::kWrite) &&
      type != static_cast<uint8_t>(RecordType::kPoint) &&
      type != static_cast<uint8_t>(RecordType::kLink)) {
    *why = "unknown record type " + std::to_string(type);
    return false;
  }
  h->type = static_cast<RecordType>(type);
  h->flags = in[5];
  h->payload_len = GetLE32(in + 8);
  if (h->payload_len > kMaxPayload) {
    *why = "record payload length " + std::to_string(h->payload_len) + " out of bounds";
    return false;
  }
  h->length = GetLE32(in + 12);
  h->seq = GetLE64(in + 16);
  h->time_ns = GetLE64(in + 24);
  h->disk = GetLE32(in + 32);
  h->branch = GetLE32(in + 36);
  h->offset = GetLE64(in + 40);
  return true;
}

bool RecordCrcMatches(const uint8_t header[kRecordHeaderSize], const void* payload,
                      size_t payload_len) {
  return crc32c::Unmask(GetLE32(header)) == RecordCrc(header, payload, payload_len);
}

bool RecordIsWhole(const uint8_t header[kRecordHeaderSize], const void* payload, uint64_t size,
                   RecordHeader* h) {
  std::string why;
  return size >= kRecordHeaderSize && DecodeRecordHeader(header, h, &why) &&
         kRecordHeaderSize + uint64_t{h->payload_len} == size &&
         RecordCrcMatches(header, payload, h->payload_len);
}

std::string SegmentFileName(uint32_t segment) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08u.seg", segment);
  return buf;
}

}  // namespace rpfs::journal
