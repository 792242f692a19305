// The hosted sparse extent ("KDMV") as laid out on disk, after VMware's
// "Virtual Disk Format 5.0" (Hosted Sparse Extents; Stream-Optimized
// Compressed Sparse Extents). All integers little-endian; sizes and offsets
// in 512-byte sectors unless said otherwise.
//
//   header, sector 0 (SparseExtentHeader, 512 bytes)
//     0   magic "KDMV"                 u32 0x564d444b
//     4   version                       1, 2 (zeroed-grain GTEs) or 3
//     8   flags                         bit 0 newline check, bit 1 redundant GD,
//                                       bit 2 zeroed-grain GTE, bit 16 compressed
//                                       grains, bit 17 markers
//     12  capacity                      u64 sectors
//     20  grainSize                     u64 sectors, a power of two
//     28  descriptorOffset, 36 descriptorSize   u64 (embedded descriptor, or 0)
//     44  numGTEsPerGT                  u32 (512)
//     48  rgdOffset                     u64 (redundant grain directory)
//     56  gdOffset                      u64; 0xffffffffffffffff = in the footer
//     64  overHead                      u64: sectors before the first grain
//     72  uncleanShutdown               u8
//     73  "\n", " ", "\r", "\n"         newline check bytes
//     77  compressAlgorithm             u16: 0 none, 1 deflate
//   grain directory: one u32 per grain table (GT sector, 0 = none)
//   grain table: numGTEsPerGT u32 grain table entries (GTE): 0 = unallocated,
//     1 = zero grain (when flags bit 2), else the grain's first sector
//   grain (uncompressed): grainSize sectors of data
//
// streamOptimized (compressed grains, markers):
//   grain marker: u64 lba (sectors), u32 size (bytes), then `size` bytes of
//     zlib-wrapped deflate data inflating to one grain (the disk's last
//     grain may be short); padded to a sector
//   metadata marker (one sector): u64 numSectors, u32 0, u32 type
//     (0 end-of-stream, 1 grain table, 2 grain directory, 3 footer), precedes
//     the structure it names
//   with gdOffset = GD_AT_END the last three sectors are the footer marker,
//     the footer (a second header, which holds the real gdOffset) and the
//     end-of-stream marker. qemu-img writes instead a header with a real
//     gdOffset and GD/GTs up front, and no footer.
#pragma once

#include <cstdint>

#include "journal/coding.h"

namespace rpfs::fs {

constexpr uint64_t kSector = 512;
constexpr uint32_t kSparseMagic = 0x564d444b;  // "KDMV" read little-endian
constexpr uint64_t kGdAtEnd = 0xffffffffffffffffull;

constexpr uint32_t kFlagNewlineCheck = 1u << 0;
constexpr uint32_t kFlagRedundantGd = 1u << 1;
constexpr uint32_t kFlagZeroGrainGte = 1u << 2;
constexpr uint32_t kFlagCompressed = 1u << 16;
constexpr uint32_t kFlagMarkers = 1u << 17;
constexpr uint16_t kCompressDeflate = 1;

constexpr uint32_t kGteZeroGrain = 1;

constexpr uint32_t kMarkerEndOfStream = 0;
constexpr uint32_t kMarkerGrainTable = 1;
constexpr uint32_t kMarkerGrainDirectory = 2;
constexpr uint32_t kMarkerFooter = 3;
constexpr uint64_t kGrainMarkerBytes = 12;  // lba + size, then the data

// Bounds we accept; VMware writes grainSize 128 and 512 GTEs per GT.
constexpr uint64_t kMaxGrainSectors = 1u << 13;       // 4 MiB grains (kMaxRunBytes)
constexpr uint32_t kMaxGtesPerGt = 512;
constexpr uint64_t kMaxGdEntries = uint64_t{1} << 22;  // 16 MiB of grain directory
constexpr uint64_t kMaxEmbeddedDescriptorSectors = 2048;  // 1 MiB

}  // namespace rpfs::fs
