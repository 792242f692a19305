#include "fs/vmdk/grain_directory.h"

#include "fs/vmdk/sparse_extent_format.h"

namespace rpfs::fs {

Status GrainDirectory::Load(const ByteSource& src, const SparseHeader& h, bool redundant,
                            std::unique_ptr<GrainDirectory>* out) {
  const uint64_t sector = redundant ? h.rgd_sector : h.gd_sector;
  const uint64_t field = h.header_at + (redundant ? 48 : 56);
  const std::string what = redundant ? "redundant grain directory" : "grain directory";
  const std::string where = src.name() + ": " + (h.footer ? "footer" : "header") +
                            " at offset " + std::to_string(field) + ": ";
  if (sector == 0) return Status::Corruption(where + what + " offset is 0");
  if (!SectorsInFile(sector, h.gd_bytes(), src.size())) {
    return Status::Corruption(where + PastEnd(what, sector, h.gd_bytes(), src.size()));
  }
  std::unique_ptr<GrainDirectory> gd(new GrainDirectory);
  gd->redundant_ = redundant;
  gd->offset_ = sector * kSector;
  std::vector<char> raw(h.gd_bytes());
  RPFS_RETURN_IF_ERROR(src.ReadAt(gd->offset_, raw.size(), raw.data(), what));
  gd->entries_.resize(h.gd_entries);
  for (size_t i = 0; i < gd->entries_.size(); ++i) {
    const uint32_t e = GetLE32(raw.data() + 4 * i);
    gd->entries_[i] = e;
    if (e == 0) continue;
    const std::string entry = src.name() + ": " + what + " entry " + std::to_string(i) +
                              " at offset " + std::to_string(gd->offset_ + 4 * i) + ": ";
    if (!SectorsInFile(e, h.gt_bytes(), src.size())) {
      return Status::Corruption(entry + PastEnd(gd->TableName(i), e, h.gt_bytes(), src.size()));
    }
  }
  *out = std::move(gd);
  return Status::OK();
}

std::string GrainDirectory::TableName(size_t i) const {
  return std::string(redundant_ ? "redundant grain table " : "grain table ") + std::to_string(i);
}

GrainCursor::GrainCursor(const ByteSource& src, const SparseHeader& h, const GrainDirectory& gd)
    : src_(src), h_(h), gd_(gd) {}

std::string GrainCursor::Structure(const GrainRef& g) const {
  return gd_.TableName(g.table) + " entry " + std::to_string(g.entry) + " at offset " +
         std::to_string(g.entry_offset);
}

std::string GrainCursor::Where(const GrainRef& g) const {
  return src_.name() + ": " + Structure(g);
}

Status GrainCursor::LoadTable(size_t t) {
  loaded_ = true;
  const uint64_t at = gd_.table_offset(t);
  if (at == 0) {
    gt_.clear();
    return Status::OK();
  }
  gt_.resize(h_.gt_bytes());
  return src_.ReadAt(at, gt_.size(), gt_.data(), gd_.TableName(t));
}

Status GrainCursor::Next(GrainRef* g, bool* end) {
  const uint64_t grains = h_.grains();
  while (table_ < gd_.tables()) {
    if (!loaded_) RPFS_RETURN_IF_ERROR(LoadTable(table_));
    while (!gt_.empty() && entry_ < h_.gtes_per_gt) {
      const size_t e = entry_++;
      const uint32_t gte = GetLE32(gt_.data() + 4 * e);
      if (gte == 0 || (gte == kGteZeroGrain && h_.zero_grain_gte)) continue;
      GrainRef r;
      r.index = uint64_t{table_} * h_.gtes_per_gt + e;
      r.table = table_;
      r.entry = e;
      r.entry_offset = gd_.table_offset(table_) + 4 * e;
      r.file_offset = uint64_t{gte} * kSector;
      if (r.index >= grains) {
        return Status::Corruption(Where(r) + " maps a grain past the disk's capacity");
      }
      r.bytes = std::min(h_.grain_bytes, h_.capacity - r.index * h_.grain_bytes);
      if (r.file_offset < h_.overhead) {
        return Status::Corruption(Where(r) + " points into metadata (sector " +
                                  std::to_string(gte) + ", before the first grain at sector " +
                                  std::to_string(h_.overhead / kSector) + ")");
      }
      // Uncompressed: the grain's bytes; compressed: at least its marker.
      const uint64_t need = h_.compressed ? kGrainMarkerBytes : r.bytes;
      if (r.file_offset > src_.size() || need > src_.size() - r.file_offset) {
        return Status::Corruption(Where(r) + ": grain at offset " +
                                  std::to_string(r.file_offset) + " (" + std::to_string(need) +
                                  " bytes) is past the end of the file (" +
                                  std::to_string(src_.size()) + " bytes)");
      }
      *g = r;
      *end = false;
      return Status::OK();
    }
    ++table_;
    entry_ = 0;
    loaded_ = false;
  }
  *end = true;
  return Status::OK();
}

}  // namespace rpfs::fs
