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

// Compresses data[0,n) at zstd `level` (> 0) into *out; true if the
// result is at most `max_out` bytes (else *out is unspecified).
bool CompressPayload(int level, const void* data, size_t n, size_t max_out, std::string* out);

// Decodes a payload stored with `flags` into exactly `length` bytes at out.
Status DecodePayload(uint8_t flags, const void* payload, size_t payload_len, void* out,
                     size_t length);

}  // namespace rpfs::journal
