#include "journal/block_encoder.h"

#include <algorithm>
#include <array>

#include "journal/payload_codec.h"
#include "journal/record_format.h"
#include "journal/worker_pool.h"

namespace rpfs::journal {
namespace {
constexpr uint32_t kMaxStretch = 64;
// Below this many blocks a request is encoded on the caller's thread:
// waking a helper costs more than it saves.
constexpr size_t kParallelBlocks = 32;
// A stream whose stretch is this long is backing off: encoded inline.
constexpr uint32_t kParallelMinStretch = 8;
constexpr size_t kGateSlots = 64;  // streams by number % kGateSlots
}  // namespace

BlockEncoder::Gate& BlockEncoder::GateFor(uint32_t stream) {
  // One set of gates per thread, for the encoder it last served (a
  // process may hold several vaults): a stale gate costs time, never
  // correctness.
  thread_local const BlockEncoder* owner = nullptr;
  thread_local std::array<Gate, kGateSlots> gates;
  if (owner != this) {
    owner = this;
    gates.fill(Gate());
  }
  return gates[stream % kGateSlots];
}

void BlockEncoder::Encode(uint32_t stream, const char* data, size_t n, EncodedBlock* out,
                          char* room) {
  if (IsAllZero(data, n)) {
    out->flags = kZero;
    out->body = nullptr;
    out->body_len = 0;
    return;
  }
  out->flags = 0;
  out->body = data;
  out->body_len = static_cast<uint32_t>(n);
  if (level_ == 0) return;
  Gate& g = GateFor(stream);
  if (g.skip > 0) {
    --g.skip;
    return;
  }
  if (room == nullptr) {
    // Sized once to a block and kept: resizing to each payload would
    // zero-fill it again for every block.
    if (out->compressed.size() < n) out->compressed.resize(n);
    room = out->compressed.data();
  }
  if (size_t got = CompressPayload(level_, data, n, room, n - n / 8); got > 0) {
    g.stretch = 0;
    out->flags = kZstd;
    out->body = room;
    out->body_len = static_cast<uint32_t>(got);
    return;
  }
  g.stretch = std::min(kMaxStretch, g.stretch == 0 ? 1 : g.stretch * 2);
  g.skip = g.stretch;
}

void BlockEncoder::EncodeRun(uint32_t stream, const char* data, size_t count, size_t block_size,
                             EncodedBlock* out) {
  // A stream that keeps failing to compress skips most attempts: then
  // zero tests are all the work, and waking helpers would cost more.
  if (count < kParallelBlocks || level_ == 0 || GateFor(stream).stretch >= kParallelMinStretch) {
    for (size_t i = 0; i < count; ++i) Encode(stream, data + i * block_size, block_size, out + i);
    return;
  }
  // Chunks of 16 blocks: few enough wake-ups, fine enough to balance.
  constexpr size_t kChunk = 16;
  WorkerPool::Shared().Run((count + kChunk - 1) / kChunk, [&](size_t c) {
    size_t end = std::min(count, (c + 1) * kChunk);
    for (size_t i = c * kChunk; i < end; ++i) {
      Encode(stream, data + i * block_size, block_size, out + i);
    }
  });
}

}  // namespace rpfs::journal
