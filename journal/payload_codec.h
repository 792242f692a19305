// Compression of record payloads with zstd (BlockEncoder decides when).
// Thread-safe: each thread keeps its own zstd contexts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "journal/status.h"

namespace rpfs::journal {

// True if data[0,n) is all zero bytes: such blocks are stored as a flag.
bool IsAllZero(const void* data, size_t n);

// Compresses data[0,n) at zstd `level` (not 0) into out[0,max_out): the
// compressed size, or 0 if it does not fit (out is then unspecified).
size_t CompressPayload(int level, const void* data, size_t n, void* out, size_t max_out);

// Decodes a payload stored with `flags` into exactly `length` bytes at out.
Status DecodePayload(uint8_t flags, const void* payload, size_t payload_len, void* out,
                     size_t length);

}  // namespace rpfs::journal
