// Key and value of the versioned block map (LMDB database "blocks").
//
// Key, 24 bytes, big-endian so byte order is numeric order:
//
//    0  disk id     u32
//    4  branch id   u32
//    8  block       u64   (byte offset / block size)
//   16  ~seq        u64   (bitwise not: newer versions sort first)
//
// so "newest version of block b of disk d on branch r with seq <= s" is
// the first key >= (d, r, b, ~s), if it still has prefix (d, r, b): one
// MDB_SET_RANGE.
//
// Value, 13 bytes, little-endian: segment u32, offset u32, record size
// u32, record flags u8. A version with flag kZero has no record to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "journal/coding.h"
#include "journal/journal.h"

namespace rpfs::catalog {

constexpr uint64_t kMaxSeq = UINT64_MAX;

struct BlockKey {
  uint32_t disk = 0;
  uint32_t branch = 0;
  uint64_t block = 0;
  uint64_t seq = 0;

  // Cursor order: by disk, branch, block, then newest seq first.
  bool operator<(const BlockKey& o) const {
    return std::tie(disk, branch, block, o.seq) < std::tie(o.disk, o.branch, o.block, seq);
  }
  bool SameBlock(const BlockKey& o) const {
    return disk == o.disk && branch == o.branch && block == o.block;
  }
};

struct BlockVersion {
  uint64_t seq = 0;
  journal::RecordLocation loc;
  uint8_t flags = 0;
};

// One entry of the block map: what compaction and defragmentation move.
struct KeyedVersion {
  BlockKey key;
  BlockVersion version;
};

constexpr size_t kBlockKeySize = 24;
constexpr size_t kBlockValueSize = 13;

// Encoded forms live on the stack: the read path encodes a key per block.
template <size_t N>
struct Packed {
  uint8_t bytes[N];
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes), N}; }
};

inline Packed<kBlockKeySize> EncodeBlockKey(const BlockKey& k) {
  Packed<kBlockKeySize> s;
  PutBE32(s.bytes, k.disk);
  PutBE32(s.bytes + 4, k.branch);
  PutBE64(s.bytes + 8, k.block);
  PutBE64(s.bytes + 16, ~k.seq);
  return s;
}

inline bool DecodeBlockKey(std::string_view s, BlockKey* k) {
  if (s.size() != kBlockKeySize) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  k->disk = GetBE32(p);
  k->branch = GetBE32(p + 4);
  k->block = GetBE64(p + 8);
  k->seq = ~GetBE64(p + 16);
  return true;
}

inline Packed<kBlockValueSize> EncodeBlockValue(const BlockVersion& v) {
  Packed<kBlockValueSize> s;
  uint8_t* p = s.bytes;
  PutLE32(p, v.loc.segment);
  PutLE32(p + 4, v.loc.offset);
  PutLE32(p + 8, v.loc.size);
  p[12] = v.flags;
  return s;
}

inline bool DecodeBlockValue(std::string_view s, uint64_t seq, BlockVersion* v) {
  if (s.size() != kBlockValueSize) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  v->seq = seq;
  v->loc.segment = GetLE32(p);
  v->loc.offset = GetLE32(p + 4);
  v->loc.size = GetLE32(p + 8);
  v->flags = p[12];
  return true;
}

}  // namespace rpfs::catalog
