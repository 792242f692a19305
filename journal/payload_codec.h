// Compression of record payloads with zstd.
//
// Encode keeps the compressed form only when it is smaller; incompressible
// blocks are stored as they are, so reading them costs no decompression.
// Thread-safe: each thread keeps its own zstd contexts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "journal/status.h"

namespace rpfs::journal {

// True if data[0,n) is all zero bytes: such blocks are stored as a flag.
bool IsAllZero(const void* data, size_t n);

// Compresses data[0,n) at `level` (0 = store) into *out; returns the
// record flags describing *out (kZstd or 0).
uint8_t EncodePayload(int level, const void* data, size_t n, std::string* out);

// Decodes a payload stored with `flags` into exactly `length` bytes at out.
Status DecodePayload(uint8_t flags, const void* payload, size_t payload_len, void* out,
                     size_t length);

}  // namespace rpfs::journal
