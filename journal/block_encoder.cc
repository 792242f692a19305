#include "journal/block_encoder.h"

#include <algorithm>

#include "journal/payload_codec.h"
#include "journal/record_format.h"
#include "journal/worker_pool.h"

namespace rpfs::journal {
namespace {
constexpr uint32_t kMaxStretch = 64;
// Below this many blocks a request is encoded on the caller's thread:
// waking a helper costs more than it saves.
constexpr size_t kParallelBlocks = 32;
constexpr uint32_t kParallelMinStretch = 8;
}  // namespace

void BlockEncoder::Encode(uint32_t stream, const char* data, size_t n, EncodedBlock* out) {
  if (IsAllZero(data, n)) {
    out->flags = kZero;
    out->body = nullptr;
    out->body_len = 0;
    return;
  }
  out->flags = 0;
  out->body = data;
  out->body_len = static_cast<uint32_t>(n);
  if (level_ <= 0) return;
  Gate& g = gates_[stream % gates_.size()];
  uint32_t skip = g.skip.load(std::memory_order_relaxed);
  if (skip > 0) {
    g.skip.store(skip - 1, std::memory_order_relaxed);
    return;
  }
  if (CompressPayload(level_, data, n, n - n / 8, &out->compressed)) {
    g.stretch.store(0, std::memory_order_relaxed);
    out->flags = kZstd;
    out->body = out->compressed.data();
    out->body_len = static_cast<uint32_t>(out->compressed.size());
    return;
  }
  uint32_t stretch = g.stretch.load(std::memory_order_relaxed);
  stretch = std::min(kMaxStretch, stretch == 0 ? 1 : stretch * 2);
  g.stretch.store(stretch, std::memory_order_relaxed);
  g.skip.store(stretch, std::memory_order_relaxed);
}

void BlockEncoder::EncodeRun(uint32_t stream, const char* data, size_t count, size_t block_size,
                             EncodedBlock* out) {
  // A stream that keeps failing to compress skips most attempts: then
  // zero tests are all the work, and waking helpers would cost more.
  const bool backing_off =
      gates_[stream % gates_.size()].stretch.load(std::memory_order_relaxed) >= kParallelMinStretch;
  if (count < kParallelBlocks || level_ <= 0 || backing_off) {
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
