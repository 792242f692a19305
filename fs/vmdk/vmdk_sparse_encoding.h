// The pieces an exporter writes into a hosted sparse VMDK extent: the
// SparseExtentHeader (also a stream's footer), metadata markers and the
// head of a compressed grain. The byte layout, and the constants for it,
// are in fs/vmdk/sparse_extent_format.h, shared with the importer's reader;
// this file adds what only a writer needs. Sectors are 512 bytes, every
// integer little-endian.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fs/vmdk/sparse_extent_format.h"

namespace rpfs::tools::vmdk {

using fs::kSector;

constexpr uint64_t kDefaultGrainSectors = 128;  // 64 KiB, what VMware and qemu write
constexpr uint32_t kGtesPerGt = 512;
constexpr uint64_t kGtSectors = kGtesPerGt * 4 / kSector;
// Room for the embedded descriptor, as qemu-img and VMware reserve it: qemu
// rewrites a CID with a 10 KiB buffer at descriptorOffset, so anything
// smaller could be overwritten.
constexpr uint64_t kDescriptorSectors = 20;

struct SparseHeader {
  uint32_t version = 1;
  uint32_t flags = 0;
  uint64_t capacity = 0;  // sectors
  uint64_t grain_size = kDefaultGrainSectors;
  uint64_t descriptor_offset = 0;
  uint64_t descriptor_size = 0;
  uint32_t gtes_per_gt = kGtesPerGt;
  uint64_t rgd_offset = 0;
  uint64_t gd_offset = 0;
  uint64_t overhead = 0;
  uint16_t compress_algorithm = 0;
};

// How many tables a disk of `capacity` sectors needs.
struct SparseGeometry {
  uint64_t grains = 0;      // grain-table entries in use (the last grain may be partial)
  uint64_t gt_count = 0;    // grain tables = grain-directory entries
  uint64_t gd_sectors = 0;  // the grain directory, padded to sectors
};
SparseGeometry GeometryFor(uint64_t capacity_sectors, uint64_t grain_sectors);

// Writes the 512-byte header at out.
void EncodeSparseHeader(const SparseHeader& h, char* out);
// Writes a 512-byte metadata marker (fs::kMarker*) at out.
void EncodeMetadataMarker(uint32_t type, uint64_t num_sectors, char* out);
// Writes the fs::kGrainMarkerBytes head of a compressed grain at out.
void EncodeGrainMarker(uint64_t lba, uint32_t size, char* out);

inline uint64_t DivRoundUp(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace rpfs::tools::vmdk
