// Reads and checks a hosted sparse extent's header (and, for a
// streamOptimized extent whose gdOffset is GD_AT_END, its footer, markers
// and end-of-stream marker); see fs/vmdk/sparse_extent_format.h. Every field is
// checked against the file's size and our bounds before anyone uses it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fs/vmdk/byte_source.h"

namespace rpfs::fs {

// The header fields in use, in bytes where the format says sectors.
struct SparseHeader {
  uint32_t version = 0;
  uint32_t flags = 0;
  uint64_t capacity = 0;      // bytes
  uint64_t grain_bytes = 0;   // a power of two
  uint64_t descriptor_offset = 0, descriptor_bytes = 0;  // 0, 0: none
  uint32_t gtes_per_gt = 0;
  uint64_t gd_entries = 0;    // grain tables needed to map capacity
  // The directories' sectors as read, unchecked: GrainDirectory::Load
  // checks them, so that a bad primary can fall back to the redundant one.
  uint64_t gd_sector = 0;     // the footer's, if the header's is GD_AT_END
  uint64_t rgd_sector = 0;    // 0: no redundant directory
  uint64_t header_at = 0;     // offset of the header copy in use (0, or the footer's)
  uint64_t overhead = 0;      // bytes before the first grain
  bool compressed = false;    // deflate grains with markers
  bool zero_grain_gte = false;
  bool footer = false;        // gdOffset came from the footer
  uint64_t footer_offset = 0; // the footer marker's offset, if footer

  uint64_t gt_bytes() const { return uint64_t{gtes_per_gt} * 4; }
  uint64_t gd_bytes() const { return gd_entries * 4; }
  uint64_t grains() const { return (capacity + grain_bytes - 1) / grain_bytes; }
};

// [sectors * 512, + bytes) lies inside a file of file_size bytes (no overflow).
bool SectorsInFile(uint64_t sectors, uint64_t bytes, uint64_t file_size);
// "<what> at sector S (B bytes) is past the end of the file (F bytes)"
std::string PastEnd(std::string_view what, uint64_t sectors, uint64_t bytes, uint64_t file_size);

// Corruption naming the field and its offset, or InvalidArgument for what
// we do not support (COWD extents, other compressions).
Status ReadSparseHeader(const ByteSource& src, SparseHeader* h);

}  // namespace rpfs::fs
