#include "journal/payload_codec.h"

#include <zstd.h>

#include <cstring>

#include "journal/record_format.h"

namespace rpfs::journal {
namespace {

struct Contexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~Contexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};

Contexts& ThreadContexts() {
  thread_local Contexts ctx;
  return ctx;
}

}  // namespace

bool IsAllZero(const void* data, size_t n) {
  // Word-wise: blocks are large and rarely zero early on.
  const auto* p = static_cast<const char*>(data);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) return false;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

size_t CompressPayload(int level, const void* data, size_t n, void* out, size_t max_out) {
  // zstd gives up as soon as the output cannot fit in max_out.
  size_t got = ZSTD_compressCCtx(ThreadContexts().c, out, max_out, data, n, level);
  return ZSTD_isError(got) ? 0 : got;
}

Status DecodePayload(uint8_t flags, const void* payload, size_t payload_len, void* out,
                     size_t length) {
  if (flags & kZero) {
    std::memset(out, 0, length);
    return Status::OK();
  }
  if (flags & kZstd) {
    size_t got = ZSTD_decompressDCtx(ThreadContexts().d, out, length, payload, payload_len);
    if (ZSTD_isError(got)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(got));
    if (got != length) return Status::Corruption("zstd payload decodes to wrong length");
    return Status::OK();
  }
  if (payload_len != length) return Status::Corruption("stored payload has wrong length");
  std::memcpy(out, payload, length);
  return Status::OK();
}

}  // namespace rpfs::journal
