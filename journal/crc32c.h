// CRC32C (Castagnoli), as LevelDB uses for its log records.
//
// Hardware (SSE4.2) when the CPU has it, a table otherwise; both give the
// same values. Mask() is applied to every CRC we store so that a CRC
// computed over data that itself contains CRCs stays strong.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rpfs::crc32c {

// CRC32C of data[0,n) continuing from init_crc (0 for a fresh CRC).
uint32_t Extend(uint32_t init_crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace rpfs::crc32c
