#include "journal/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace rpfs::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint64_t Crc8(uint64_t c, const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return _mm_crc32_u64(c, v);
}

__attribute__((target("sse4.2"))) uint32_t ExtendSerial(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; p += 8, n -= 8) c = Crc8(c, p);
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1,
// so three independent streams over adjacent chunks run ~3x faster; the
// streams are then joined by "shifting" a CRC state over one or two
// chunks of zero bytes, done with tables built once from ExtendSerial.
// Chunks of 1 KiB first, then of 256 bytes, so that a compressed payload
// of about 1 KiB takes the fast path too (256-byte chunks alone would
// pay the joins more often on whole blocks).
struct ShiftTable {
  uint32_t t[4][256];
  uint32_t Apply(uint32_t s) const {
    return t[0][s & 0xff] ^ t[1][(s >> 8) & 0xff] ^ t[2][(s >> 16) & 0xff] ^ t[3][s >> 24];
  }
};

template <size_t kChunk>
struct ShiftTables {
  ShiftTable one, two;  // shift over kChunk and 2*kChunk zero bytes
  ShiftTables() {
    static const uint8_t zeros[2 * kChunk] = {};
    for (int k = 0; k < 4; ++k) {
      for (uint32_t i = 0; i < 256; ++i) {
        one.t[k][i] = ExtendSerial(i << (8 * k), zeros, kChunk);
        two.t[k][i] = ExtendSerial(i << (8 * k), zeros, 2 * kChunk);
      }
    }
  }
};

template <size_t kChunk>
__attribute__((target("sse4.2"))) uint32_t ExtendThreeWay(uint32_t crc, const uint8_t** p,
                                                          size_t* n) {
  static const ShiftTables<kChunk> tables;
  while (*n >= 3 * kChunk) {
    const uint8_t* q = *p;
    uint64_t c0 = crc, c1 = 0, c2 = 0;
    for (size_t i = 0; i < kChunk; i += 8) {
      c0 = Crc8(c0, q + i);
      c1 = Crc8(c1, q + kChunk + i);
      c2 = Crc8(c2, q + 2 * kChunk + i);
    }
    crc = tables.two.Apply(static_cast<uint32_t>(c0)) ^
          tables.one.Apply(static_cast<uint32_t>(c1)) ^ static_cast<uint32_t>(c2);
    *p += 3 * kChunk;
    *n -= 3 * kChunk;
  }
  return crc;
}

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ExtendThreeWay<1024>(crc, &p, &n);
  crc = ExtendThreeWay<256>(crc, &p, &n);
  return ExtendSerial(crc, p, n);
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Extend(uint32_t init_crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = init_crc ^ 0xffffffffu;
#if defined(__x86_64__)
  if (HaveSse42()) return ExtendSse42(crc, p, n) ^ 0xffffffffu;
#endif
  return ExtendPortable(crc, p, n) ^ 0xffffffffu;
}

}  // namespace rpfs::crc32c
