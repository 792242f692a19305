// The replication wire protocol, spoken inside TLS 1.3 between `rpfs
// replicate` (the source) and `rpfs serve` (the target). All integers are
// little-endian. A frame is
//
//    0  body length   u32   1 .. kMaxFrameBody
//    4  type          u8    FrameType
//    5  body          length - 1 bytes
//
// Control frames carry JSON bodies. A session goes:
//
//   S->C Hello    {"protocol":1,"vault":ID,"salt":HEX,"n":N,"r":R,"p":P,"nonce":HEX}
//   C->S Auth     {"nonce":HEX,"proof":HEX,"source_vault":ID,"group":NAME}
//   S->C Welcome  {"proof":HEX,"block_size":N,"link":ReplicaLink|null,"newest_point":ID}
//        or Error {"message":TEXT} and the server hangs up
//   C->S Setup    {"group":Group,"disks":[Disk...]}   S->C Ready {}
//   then C->S Batch / Point / Heartbeat; S->C an Ack for each Batch and
//   Point once durable, {"applied_seq":S,"chain":HEX,...}, Heartbeat for
//   each Heartbeat, or Error {"message":TEXT,"permanent":BOOL}
//
// (tools/replication/pairing.h says how the proofs are made.) A Batch body is binary:
//
//    0  applied_seq    u64  the link's applied seq once the batch is in
//    8  applied_time   u64  the source's time of it (ns)
//   16  step_to        u64  ReplicaLink's catch-up step state after it
//   24  step_time      u64
//   32  step_disk      u32
//   36  step_block     u64
//   44  chain          32 bytes: the link's chain after it
//   76  call count     u32
//   80  calls: seq u64, time u64, block count u32, then per block:
//         disk index u32 (into Setup's disks), block u64, flags u8,
//         payload length u32, payload (as the source stored it: a zstd
//         frame, a stored block, or nothing for a zero block)
//
// ParseBatch checks every count and length against the body before use;
// it is the parser the fuzz target (tests/fuzz/wire_frame_fuzz.cc) drives.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "journal/status.h"

namespace rpfs::tools {

enum class FrameType : uint8_t {
  kHello = 1,
  kAuth = 2,
  kWelcome = 3,
  kError = 4,
  kSetup = 5,
  kReady = 6,
  kBatch = 7,
  kPoint = 8,
  kAck = 9,
  kHeartbeat = 10,
};

constexpr uint32_t kMaxFrameBody = 24u << 20;
constexpr size_t kChainSize = 32;

struct WireBlock {
  uint32_t disk = 0;  // index into the session's disks
  uint64_t block = 0;
  uint8_t flags = 0;
  std::string_view payload;
};

struct WireCall {
  uint64_t seq = 0;
  uint64_t time_ns = 0;
  std::vector<WireBlock> blocks;
};

struct WireBatch {
  uint64_t applied_seq = 0;
  uint64_t applied_time_ns = 0;
  uint64_t step_to = 0;
  uint64_t step_time_ns = 0;
  uint32_t step_disk = 0;
  uint64_t step_block = 0;
  uint8_t chain[kChainSize] = {};
  std::vector<WireCall> calls;
};

// A frame's 5-byte head. InvalidArgument for a length of 0 or past
// kMaxFrameBody, or an unknown type.
Status ParseFrameHead(const uint8_t head[5], FrameType* type, uint32_t* body_len);
std::string EncodeFrameHead(FrameType type, size_t body_len);

// Appends to *out the batch's fixed part, and then each call and block.
void EncodeBatchHead(const WireBatch& b, uint32_t call_count, std::string* out);
void EncodeCallHead(uint64_t seq, uint64_t time_ns, uint32_t block_count, std::string* out);
void EncodeBlock(uint32_t disk, uint64_t block, uint8_t flags, std::string_view payload,
                 std::string* out);

// Parses a Batch body; payloads point into `body`. InvalidArgument naming
// the offset of whatever does not fit.
Status ParseBatch(std::string_view body, WireBatch* out);

// The link chain: chain' = SHA-256(chain || seq || disk name || 0 ||
// block || flags || payload length || crc32c(payload)), one step per
// block record applied, so that source and target agree on every record
// in order, each once.
void ExtendChain(uint8_t chain[kChainSize], uint64_t seq, std::string_view disk, uint64_t block,
                 uint8_t flags, std::string_view payload);
std::string ChainHex(const uint8_t chain[kChainSize]);
bool ChainFromHex(std::string_view hex, uint8_t chain[kChainSize]);  // "" is all zeros

}  // namespace rpfs::tools
