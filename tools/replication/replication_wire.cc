#include "tools/replication/replication_wire.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "journal/coding.h"
#include "journal/crc32c.h"

namespace rpfs::tools {
namespace {

constexpr size_t kBatchFixed = 80;
constexpr size_t kCallHead = 20;
constexpr size_t kBlockHead = 17;

void Put32(std::string* out, uint32_t v) {
  char b[4];
  PutLE32(b, v);
  out->append(b, 4);
}

void Put64(std::string* out, uint64_t v) {
  char b[8];
  PutLE64(b, v);
  out->append(b, 8);
}

}  // namespace

Status ParseFrameHead(const uint8_t head[5], FrameType* type, uint32_t* body_len) {
  const uint32_t len = GetLE32(head);
  if (len == 0 || len > kMaxFrameBody + 1) {
    return Status::InvalidArgument("frame length " + std::to_string(len) + " out of range");
  }
  if (head[4] < static_cast<uint8_t>(FrameType::kHello) ||
      head[4] > static_cast<uint8_t>(FrameType::kHeartbeat)) {
    return Status::InvalidArgument("unknown frame type " + std::to_string(head[4]));
  }
  *type = static_cast<FrameType>(head[4]);
  *body_len = len - 1;
  return Status::OK();
}

std::string EncodeFrameHead(FrameType type, size_t body_len) {
  std::string h;
  Put32(&h, static_cast<uint32_t>(body_len + 1));
  h.push_back(static_cast<char>(type));
  return h;
}

void EncodeBatchHead(const WireBatch& b, uint32_t call_count, std::string* out) {
  Put64(out, b.applied_seq);
  Put64(out, b.applied_time_ns);
  Put64(out, b.step_to);
  Put64(out, b.step_time_ns);
  Put32(out, b.step_disk);
  Put64(out, b.step_block);
  out->append(reinterpret_cast<const char*>(b.chain), kChainSize);
  Put32(out, call_count);
}

void EncodeCallHead(uint64_t seq, uint64_t time_ns, uint32_t block_count, std::string* out) {
  Put64(out, seq);
  Put64(out, time_ns);
  Put32(out, block_count);
}

void EncodeBlock(uint32_t disk, uint64_t block, uint8_t flags, std::string_view payload,
                 std::string* out) {
  Put32(out, disk);
  Put64(out, block);
  out->push_back(static_cast<char>(flags));
  Put32(out, static_cast<uint32_t>(payload.size()));
  out->append(payload);
}

Status ParseBatch(std::string_view body, WireBatch* out) {
  const char* p = body.data();
  const size_t n = body.size();
  auto bad = [](size_t at, const std::string& what) {
    return Status::InvalidArgument("batch frame offset " + std::to_string(at) + ": " + what);
  };
  if (n < kBatchFixed) return bad(0, "shorter than its fixed part (" + std::to_string(n) + " bytes)");
  out->applied_seq = GetLE64(p);
  out->applied_time_ns = GetLE64(p + 8);
  out->step_to = GetLE64(p + 16);
  out->step_time_ns = GetLE64(p + 24);
  out->step_disk = GetLE32(p + 32);
  out->step_block = GetLE64(p + 36);
  std::memcpy(out->chain, p + 44, kChainSize);
  const uint32_t calls = GetLE32(p + 76);
  out->calls.clear();
  size_t at = kBatchFixed;
  // Each call takes at least its head: a count the body cannot hold is a lie.
  if (calls > (n - at) / kCallHead) return bad(76, "call count " + std::to_string(calls) + " too large");
  out->calls.reserve(calls);
  for (uint32_t c = 0; c < calls; ++c) {
    if (n - at < kCallHead) return bad(at, "call head truncated");
    WireCall call;
    call.seq = GetLE64(p + at);
    call.time_ns = GetLE64(p + at + 8);
    const uint32_t blocks = GetLE32(p + at + 16);
    at += kCallHead;
    if (blocks > (n - at) / kBlockHead) {
      return bad(at - 4, "block count " + std::to_string(blocks) + " too large");
    }
    call.blocks.reserve(blocks);
    for (uint32_t i = 0; i < blocks; ++i) {
      if (n - at < kBlockHead) return bad(at, "block head truncated");
      WireBlock b;
      b.disk = GetLE32(p + at);
      b.block = GetLE64(p + at + 4);
      b.flags = static_cast<uint8_t>(p[at + 12]);
      const uint32_t len = GetLE32(p + at + 13);
      at += kBlockHead;
      if (len > n - at) return bad(at - 4, "payload length " + std::to_string(len) + " past the frame's end");
      b.payload = std::string_view(p + at, len);
      at += len;
      call.blocks.push_back(b);
    }
    out->calls.push_back(std::move(call));
  }
  if (at != n) return bad(at, std::to_string(n - at) + " bytes after the last call");
  return Status::OK();
}

void ExtendChain(uint8_t chain[kChainSize], uint64_t seq, std::string_view disk, uint64_t block,
                 uint8_t flags, std::string_view payload) {
  uint8_t fixed[8 + 8 + 1 + 4 + 4];
  PutLE64(fixed, seq);
  PutLE64(fixed + 8, block);
  fixed[16] = flags;
  PutLE32(fixed + 17, static_cast<uint32_t>(payload.size()));
  PutLE32(fixed + 21, crc32c::Value(payload.data(), payload.size()));
  // One context per thread, reused: no allocation per record.
  thread_local std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                      EVP_MD_CTX_free);
  const uint8_t zero = 0;
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), chain, kChainSize);
  EVP_DigestUpdate(ctx.get(), disk.data(), disk.size());
  EVP_DigestUpdate(ctx.get(), &zero, 1);
  EVP_DigestUpdate(ctx.get(), fixed, sizeof fixed);
  EVP_DigestFinal_ex(ctx.get(), chain, &len);
}

std::string ChainHex(const uint8_t chain[kChainSize]) { return HexString(chain, kChainSize); }

bool ChainFromHex(std::string_view hex, uint8_t chain[kChainSize]) {
  std::memset(chain, 0, kChainSize);
  if (hex.empty()) return true;
  if (hex.size() != 2 * kChainSize) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < kChainSize; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    chain[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace rpfs::tools
