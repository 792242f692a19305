#include "fs/vmdk/sparse_extent_check.h"

#include "fs/vmdk/grain_space_map.h"
#include "fs/vmdk/sparse_extent_format.h"
#include "fs/vmdk/stream_grain.h"

namespace rpfs::fs {
namespace {

void AddMetadata(const ByteSource& src, const SparseHeader& h, const GrainDirectory& gd,
                 const GrainDirectory* other, GrainSpaceMap* map) {
  // Everything before the first grain: header, descriptor, and with
  // qemu's and VMware's hosted layout the directories and tables too.
  map->AddMetadata(0, h.overhead);
  map->AddMetadata(h.descriptor_offset, h.descriptor_bytes);
  // A streamOptimized extent with a footer puts a marker sector before
  // the directory and each table.
  const uint64_t marker = h.footer ? kSector : 0;
  map->AddMetadata(gd.offset() - marker, gd.bytes() + marker);
  if (other != nullptr) map->AddMetadata(other->offset(), other->bytes());
  for (size_t t = 0; t < gd.tables(); ++t) {
    const uint64_t at = gd.table_offset(t);
    if (at != 0) map->AddMetadata(at - marker, h.gt_bytes() + marker);
  }
  if (h.footer) map->AddMetadata(h.footer_offset, src.size() - h.footer_offset);
  map->Seal();
}

}  // namespace

Status CheckSparseExtent(const ByteSource& src, const SparseHeader& h, const GrainDirectory& gd,
                         const GrainDirectory* other) {
  GrainSpaceMap map(src.size(), h.grain_bytes);
  AddMetadata(src, h, gd, other, &map);
  GrainCursor cursor(src, h, gd);
  uint64_t previous_end = 0;  // compressed grains: where the last one ended
  for (;;) {
    GrainRef g;
    bool end;
    RPFS_RETURN_IF_ERROR(cursor.Next(&g, &end));
    if (end) break;
    // Compressed: the marker must not be metadata before it is believed.
    uint64_t bytes = h.compressed ? kGrainMarkerBytes : g.bytes;
    if (h.compressed && !map.IntersectsMetadata(g.file_offset, bytes)) {
      uint32_t data;
      RPFS_RETURN_IF_ERROR(ReadGrainMarker(src, h, cursor, g, &data));
      bytes = kGrainMarkerBytes + data;
    }
    if (map.IntersectsMetadata(g.file_offset, bytes)) {
      return Status::Corruption(cursor.Where(g) + " points into metadata (grain at offset " +
                                std::to_string(g.file_offset) + ", " + std::to_string(bytes) +
                                " bytes)");
    }
    if (h.compressed) {
      if (g.file_offset < previous_end) {
        return Status::Corruption(cursor.Where(g) + ": grain at offset " +
                                  std::to_string(g.file_offset) +
                                  " overlaps the previous grain or comes before it (which ends "
                                  "at offset " + std::to_string(previous_end) + ")");
      }
      previous_end = g.file_offset + bytes;
      continue;
    }
    bool overlaps;
    RPFS_RETURN_IF_ERROR(map.ClaimGrain(
        g.file_offset, [&] { return cursor.Where(g); }, &overlaps));
    if (overlaps) {
      return Status::Corruption(cursor.Where(g) + ": grain at offset " +
                                std::to_string(g.file_offset) + " overlaps another grain");
    }
  }
  std::string tag;
  uint64_t at;
  if (!map.Finish(&tag, &at)) {
    return Status::Corruption(tag + ": grain at offset " + std::to_string(at) +
                              " overlaps another grain");
  }
  return Status::OK();
}

}  // namespace rpfs::fs
