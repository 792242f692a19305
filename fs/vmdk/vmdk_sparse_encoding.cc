#include "fs/vmdk/vmdk_sparse_encoding.h"

#include <cstring>

namespace rpfs::tools::vmdk {

SparseGeometry GeometryFor(uint64_t capacity_sectors, uint64_t grain_sectors) {
  SparseGeometry g;
  g.grains = DivRoundUp(capacity_sectors, grain_sectors);
  g.gt_count = DivRoundUp(g.grains, kGtesPerGt);
  g.gd_sectors = DivRoundUp(g.gt_count * 4, kSector);
  return g;
}

void EncodeSparseHeader(const SparseHeader& h, char* out) {
  std::memset(out, 0, kSector);
  PutLE32(out, fs::kSparseMagic);
  PutLE32(out + 4, h.version);
  PutLE32(out + 8, h.flags);
  PutLE64(out + 12, h.capacity);
  PutLE64(out + 20, h.grain_size);
  PutLE64(out + 28, h.descriptor_offset);
  PutLE64(out + 36, h.descriptor_size);
  PutLE32(out + 44, h.gtes_per_gt);
  PutLE64(out + 48, h.rgd_offset);
  PutLE64(out + 56, h.gd_offset);
  PutLE64(out + 64, h.overhead);
  out[72] = 0;  // clean
  // Transfers that rewrite line ends (FTP in text mode) damage these
  // four bytes, and readers can tell.
  out[73] = '\n';
  out[74] = ' ';
  out[75] = '\r';
  out[76] = '\n';
  out[77] = static_cast<char>(h.compress_algorithm & 0xff);
  out[78] = static_cast<char>(h.compress_algorithm >> 8);
}

void EncodeMetadataMarker(uint32_t type, uint64_t num_sectors, char* out) {
  std::memset(out, 0, kSector);
  PutLE64(out, num_sectors);
  PutLE32(out + 8, 0);
  PutLE32(out + 12, type);
}

void EncodeGrainMarker(uint64_t lba, uint32_t size, char* out) {
  PutLE64(out, lba);
  PutLE32(out + 8, size);
}

}  // namespace rpfs::tools::vmdk
