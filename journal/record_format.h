// On-disk format of journal segments. With this page and a hex dump a
// reader can decode any segment; all integers are little-endian.
//
// A vault's journal/ holds segment files named %08u.seg (the segment
// number), each at most max_segment_bytes long. A segment starts with a
// 64-byte header:
//
//    0  magic            "RPFSSEG1"                    8 bytes
//    8  format version   1                             u32
//   12  segment number   same as in the file name      u32
//   16  vault id         random, same for the vault    16 bytes
//   32  first seq        1 + the highest seq before it u64
//   40  reserved         zero                          20 bytes
//   60  header crc       masked crc32c of [0,60)       u32
//
// then records back to back, no padding. A record is a 48-byte header
// followed by payload_len bytes of payload:
//
//    0  crc              masked crc32c of [4, 48 + payload_len)   u32
//    4  type             RecordType                               u8
//    5  flags            RecordFlags                              u8
//    6  reserved         zero                                     u16
//    8  payload_len      stored payload bytes                     u32
//   12  length           logical bytes (block size for kWrite)    u32
//   16  seq              vault-wide sequence number               u64
//   24  time             wall clock, ns since the Unix epoch      u64
//   32  disk             disk id                                  u32
//   36  branch           branch id                                u32
//   40  offset           byte offset in the disk (kWrite)         u64
//
// A kWrite record carries exactly one block. The blocks of one write call
// share one seq, so a view "as of seq s" never shows half a write call;
// every block but the call's last carries kContinued, so that recovery
// can tell a call a crash cut short (its last record says more follow)
// and leave it out.
// Zero blocks carry flag kZero and no payload. A kPoint record carries a
// recovery point's JSON row (disk = 0, offset = point id).
//
// Replication (tools/replication/replication_target.cc) applies a batch of another
// vault's write calls as one unit: each call gets a seq of its own here,
// every record of the batch carries kBatch, and a kLink record (the
// replication link's state as JSON: which source seq is applied; disk = 0,
// seq = the batch's last) closes it. Recovery indexes a batch only once
// its kLink record is there, so a batch a crash cut short leaves nothing
// behind and the link state always says exactly what was applied.
//
// Compaction copies the live records of old segments to the journal's end
// with flag kCopy added and every other field kept: a copy's seq and time
// are its original's, older than the records around it. So seqs rise
// along the journal except at copies, and "first seq" in a segment header
// is one more than the highest seq appended before the segment (rpfs
// before compaction wrote the seq of its first record: at most that).
//
// A segment ends where its bytes end. The newest segment may end in a torn
// record after a crash; recovery cuts it off. A roll does not sync the new
// segment (its first synced records do), so after a crash the newest may
// also lack its header (shorter than 64 bytes, or 64 zero bytes): it holds
// nothing that was synced, and recovery removes it. Any other bad record is
// corruption. Compaction deletes whole segments, so the numbering may have
// gaps; the catalog lists every segment it retired (catalog/catalog.h).
//
// In an encrypted vault (rpfs init --encrypt) every record carries flag
// kSealed (16, journal/payload_sealer.h) and its payload is sealed with
// AES-256-GCM under the vault's data key; payload_len counts all of it:
//
//    0  nonce            seal epoch (u32), then a counter (u64)  12 bytes
//   12  ciphertext       as long as the plaintext payload         n bytes
//   12+n tag             GCM tag                                  16 bytes
//
// The GCM AAD is 40 bytes: type (u8), flags & (kZstd | kZero) (u8), zero
// (u16), length (u32), seq, time (u64), disk, branch (u32), offset (u64).
// The crc covers the stored (sealed) bytes. A kZero record has an empty
// plaintext: its sealed payload is nonce and tag alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace rpfs::journal {

constexpr char kSegmentMagic[8] = {'R', 'P', 'F', 'S', 'S', 'E', 'G', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kSegmentHeaderSize = 64;
constexpr size_t kRecordHeaderSize = 48;
// No payload is ever larger than this; a bigger length field is corruption.
constexpr uint32_t kMaxPayload = 4u << 20;

enum class RecordType : uint8_t {
  kWrite = 1,  // one block of a disk on a branch
  kPoint = 2,  // a recovery point marker
  kLink = 3,   // closes a replicated batch: the link's state (JSON)
};

enum RecordFlags : uint8_t {
  kZstd = 1,  // payload is a zstd frame of `length` bytes
  kZero = 2,  // the block is all zeros; no payload
  kCopy = 4,  // written by compaction: seq and time are the original's
  kContinued = 8,  // more blocks of the same write call follow
  kBatch = 32,     // part of a replicated batch that a kLink record closes
};

struct VaultId {
  uint8_t bytes[16] = {};
  bool operator==(const VaultId&) const = default;
  std::string ToHex() const;
};

struct SegmentHeader {
  uint32_t version = kFormatVersion;
  uint32_t segment = 0;
  VaultId vault_id;
  uint64_t first_seq = 0;
};

struct RecordHeader {
  RecordType type = RecordType::kWrite;
  uint8_t flags = 0;
  uint32_t payload_len = 0;
  uint32_t length = 0;
  uint64_t seq = 0;
  uint64_t time_ns = 0;
  uint32_t disk = 0;
  uint32_t branch = 0;
  uint64_t offset = 0;
};

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]);
// False if the magic, version or crc is wrong.
bool DecodeSegmentHeader(const uint8_t in[kSegmentHeaderSize], SegmentHeader* h,
                         std::string* why);

// Writes the header with crc over header and payload into out.
void EncodeRecordHeader(const RecordHeader& h, const void* payload,
                        uint8_t out[kRecordHeaderSize]);
// Parses the fixed fields; checks type and length bounds but not the crc.
bool DecodeRecordHeader(const uint8_t in[kRecordHeaderSize], RecordHeader* h,
                        std::string* why);
// True if the crc stored in header matches header and payload.
bool RecordCrcMatches(const uint8_t header[kRecordHeaderSize], const void* payload,
                      size_t payload_len);
// A record read whole from where the index says (size bytes in all, its
// payload at `payload`, which need not follow the header): the header
// parses into *h, its length is size, its crc matches.
bool RecordIsWhole(const uint8_t header[kRecordHeaderSize], const void* payload, uint64_t size,
                   RecordHeader* h);

std::string SegmentFileName(uint32_t segment);  // "00000007.seg"

}  // namespace rpfs::journal
