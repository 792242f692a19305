// Fixed-width integer encoding. The journal is little-endian (what the
// machines we run on use natively); LMDB keys are big-endian so that byte
// order equals numeric order and one MDB_SET_RANGE lands on the answer.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace rpfs {

inline void PutLE32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutLE64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t GetLE32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetLE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
// The same on char buffers (file images read into std::string).
inline void PutLE32(char* p, uint32_t v) { PutLE32(reinterpret_cast<uint8_t*>(p), v); }
inline void PutLE64(char* p, uint64_t v) { PutLE64(reinterpret_cast<uint8_t*>(p), v); }
inline uint16_t GetLE16(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint16_t>(u[0] | u[1] << 8);
}
inline uint32_t GetLE32(const char* p) { return GetLE32(reinterpret_cast<const uint8_t*>(p)); }
inline uint64_t GetLE64(const char* p) { return GetLE64(reinterpret_cast<const uint8_t*>(p)); }

inline void PutBE32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline void PutBE64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
inline uint32_t GetBE32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetBE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Varints (LevelDB's): 7 bits a byte, low first, high bit = more follows.
inline void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}
// Advances *p; false on a truncated or over-long varint.
inline bool GetVarint64(const char** p, const char* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && *p < end; shift += 7) {
    uint64_t byte = static_cast<uint8_t>(**p);
    ++*p;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

// Lower-case hex of n bytes (ids, salts, hashes in JSON rows and frames).
inline std::string HexString(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

}  // namespace rpfs
