#include "tools/dr/sparse_vmdk_patcher.h"

#include <algorithm>
#include <cstring>

#include "fs/vmdk/sparse_extent_check.h"
#include "fs/vmdk/sparse_extent_format.h"
#include "fs/vmdk/vmdk_descriptor_parser.h"

namespace rpfs::tools {
namespace {

using fs::kSector;

constexpr uint32_t kNoParent = 0xffffffffu;

bool AllZero(const char* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

// The file's own descriptor: a whole monolithicSparse disk, no parent.
Status CheckEmbeddedDescriptor(const TargetFile& f, const fs::SparseHeader& h) {
  if (h.descriptor_bytes == 0) {
    return Status::InvalidArgument(f.name() + ": header at offset 28: no embedded descriptor, so "
                                   "one extent of a split disk; give the disk's descriptor");
  }
  const std::string where = f.name() + ": descriptor at offset " +
                            std::to_string(h.descriptor_offset);
  std::string text(h.descriptor_bytes, '\0');
  RPFS_RETURN_IF_ERROR(f.ReadAt(h.descriptor_offset, text.size(), text.data(), "descriptor"));
  const std::string_view used = DescriptorText(text);
  if (used.empty()) {
    return Status::InvalidArgument(where + " is empty, so one extent of a split disk; give the "
                                   "disk's descriptor");
  }
  fs::VmdkDescriptor d;
  RPFS_RETURN_IF_ERROR(fs::ParseVmdkDescriptor(used, f.name(), h.descriptor_offset, &d));
  if (d.parent_cid != kNoParent || !d.parent_file_name_hint.empty()) {
    return Status::InvalidArgument(where + ": a child disk (it has a parent) cannot be updated "
                                   "in place");
  }
  if (d.create_type != "monolithicSparse") {
    return Status::InvalidArgument(where + ": createType \"" + d.create_type +
                                   "\" cannot be updated in place");
  }
  if (d.total_sectors * kSector != h.capacity) {
    return Status::InvalidArgument(where + ": extents add up to " +
                                   std::to_string(d.total_sectors) +
                                   " sectors but the header's capacity is " +
                                   std::to_string(h.capacity / kSector));
  }
  return Status::OK();
}

// The structures before the first grain. We write table entries only, so
// every table must be allocated and lie there, overlapping nothing else.
struct Region {
  uint64_t begin, end;
  int kind;  // 0 header, 1 descriptor, 2 directory, 3 table
  const fs::GrainDirectory* gd;
  size_t table;
};

std::string RegionName(const Region& r) {
  switch (r.kind) {
    case 0: return "header";
    case 1: return "descriptor";
    case 2: return r.gd->redundant() ? "redundant grain directory" : "grain directory";
    default: return r.gd->TableName(r.table);
  }
}

Status CheckTableLayout(const TargetFile& f, const fs::SparseHeader& h,
                        const fs::GrainDirectory& gd, const fs::GrainDirectory* rgd) {
  std::vector<Region> regions;
  regions.push_back({0, kSector, 0, nullptr, 0});
  if (h.descriptor_bytes != 0) {
    regions.push_back({h.descriptor_offset, h.descriptor_offset + h.descriptor_bytes, 1,
                       nullptr, 0});
  }
  for (const fs::GrainDirectory* d : {&gd, rgd}) {
    if (d == nullptr) continue;
    regions.push_back({d->offset(), d->offset() + d->bytes(), 2, d, 0});
    for (size_t t = 0; t < d->tables(); ++t) {
      const uint64_t at = d->table_offset(t);
      if (at == 0) {
        return Status::InvalidArgument(
            f.name() + ": " + (d->redundant() ? "redundant grain directory" : "grain directory") +
            " entry " + std::to_string(t) + " at offset " + std::to_string(d->offset() + 4 * t) +
            ": " + d->TableName(t) + " is not allocated; only files with every grain table " +
            "allocated can be updated in place");
      }
      regions.push_back({at, at + h.gt_bytes(), 3, d, t});  // Load checked it is in the file
    }
  }
  for (const Region& r : regions) {
    if (r.end > h.overhead) {
      return Status::Corruption(f.name() + ": " + RegionName(r) + " at offset " +
                                std::to_string(r.begin) + " ends at " + std::to_string(r.end) +
                                ", past the first grain (overHead, offset " +
                                std::to_string(h.overhead) + ")");
    }
  }
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < regions.size(); ++i) {
    const Region &a = regions[i - 1], &b = regions[i];
    if (b.begin < a.end) {
      return Status::Corruption(f.name() + ": " + RegionName(b) + " at offset " +
                                std::to_string(b.begin) + " overlaps " + RegionName(a) +
                                " at offset " + std::to_string(a.begin));
    }
  }
  return Status::OK();
}

}  // namespace

Status OpenSparseTarget(std::unique_ptr<TargetFile> file, std::unique_ptr<FailbackTarget>* out) {
  std::unique_ptr<SparseVmdkPatcher> p;
  RPFS_RETURN_IF_ERROR(SparseVmdkPatcher::Open(std::move(file), &p));
  *out = std::move(p);
  return Status::OK();
}

Status SparseVmdkPatcher::Open(std::unique_ptr<TargetFile> file,
                               std::unique_ptr<SparseVmdkPatcher>* out) {
  std::unique_ptr<SparseVmdkPatcher> p(new SparseVmdkPatcher(std::move(file)));
  const TargetFile& f = *p->file_;
  fs::SparseHeader& h = p->h_;
  RPFS_RETURN_IF_ERROR(fs::ReadSparseHeader(f, &h));
  if (h.compressed || (h.flags & fs::kFlagMarkers) || h.footer) {
    return Status::InvalidArgument(f.name() + ": header at offset 8: compressed grains "
                                   "(streamOptimized) cannot be updated in place");
  }
  RPFS_RETURN_IF_ERROR(CheckEmbeddedDescriptor(f, h));
  RPFS_RETURN_IF_ERROR(fs::GrainDirectory::Load(f, h, false, &p->gd_));
  if (h.rgd_sector != 0) RPFS_RETURN_IF_ERROR(fs::GrainDirectory::Load(f, h, true, &p->rgd_));
  // Through the primary only: a file that needs its redundant directory to
  // read is damaged, and not ours to write.
  RPFS_RETURN_IF_ERROR(fs::CheckSparseExtent(f, h, *p->gd_, p->rgd_.get()));
  RPFS_RETURN_IF_ERROR(CheckTableLayout(f, h, *p->gd_, p->rgd_.get()));
  *out = std::move(p);
  return Status::OK();
}

SparseVmdkPatcher::~SparseVmdkPatcher() {
  if (!pending_.empty()) (void)Sync();  // errors are lost here: callers Sync()
}

Status SparseVmdkPatcher::Table(size_t t, std::vector<uint32_t>** out) {
  auto it = tables_.find(t);
  if (it == tables_.end()) {
    if (tables_.size() >= kMaxCachedTables) {
      // Pending entries are in the cache but not yet in the file.
      RPFS_RETURN_IF_ERROR(FlushEntries());
      tables_.clear();
    }
    std::vector<char> raw(h_.gt_bytes());
    RPFS_RETURN_IF_ERROR(
        file_->ReadAt(gd_->table_offset(t), raw.size(), raw.data(), gd_->TableName(t)));
    std::vector<uint32_t> table(h_.gtes_per_gt);
    for (size_t e = 0; e < table.size(); ++e) table[e] = GetLE32(raw.data() + 4 * e);
    it = tables_.emplace(t, std::move(table)).first;
  }
  *out = &it->second;
  return Status::OK();
}

Status SparseVmdkPatcher::GrainOffset(uint64_t g, uint64_t* at) {
  const size_t t = g / h_.gtes_per_gt, e = g % h_.gtes_per_gt;
  std::vector<uint32_t>* table;
  RPFS_RETURN_IF_ERROR(Table(t, &table));
  const uint32_t gte = (*table)[e];
  if (gte == 0 || (gte == fs::kGteZeroGrain && h_.zero_grain_gte)) {
    *at = 0;
    return Status::OK();
  }
  // Open checked every entry; the file may have changed under us since.
  const uint64_t offset = uint64_t{gte} * kSector;
  const uint64_t bytes = std::min(h_.grain_bytes, h_.capacity - g * h_.grain_bytes);
  if (offset < h_.overhead || offset > file_->size() || bytes > file_->size() - offset) {
    return Status::Corruption(file_->name() + ": " + gd_->TableName(t) + " entry " +
                              std::to_string(e) + " at offset " +
                              std::to_string(gd_->table_offset(t) + 4 * e) + ": grain at offset " +
                              std::to_string(offset) + " is outside the grains (offset " +
                              std::to_string(h_.overhead) + " to " +
                              std::to_string(file_->size()) + ")");
  }
  *at = offset;
  return Status::OK();
}

Status SparseVmdkPatcher::AllocateGrain(uint64_t g, uint64_t* at) {
  // The file's size is at most INT64_MAX and a grain at most 4 MiB.
  const uint64_t offset = (file_->size() + h_.grain_bytes - 1) / h_.grain_bytes * h_.grain_bytes;
  if (offset / kSector > UINT32_MAX) {
    return Status::InvalidArgument(file_->name() + ": a new grain for disk offset " +
                                   std::to_string(g * h_.grain_bytes) + " would start at offset " +
                                   std::to_string(offset) +
                                   ", past what a grain table entry can address (2 TiB)");
  }
  std::vector<uint32_t>* table;
  RPFS_RETURN_IF_ERROR(Table(g / h_.gtes_per_gt, &table));
  // A hole: the grain reads as zeros until the data lands in it.
  RPFS_RETURN_IF_ERROR(file_->Extend(offset + h_.grain_bytes, "new grain"));
  const uint32_t sector = static_cast<uint32_t>(offset / kSector);
  (*table)[g % h_.gtes_per_gt] = sector;
  pending_[g] = sector;
  *at = offset;
  return Status::OK();
}

Status SparseVmdkPatcher::Read(uint64_t offset, size_t n, char* out) {
  RPFS_RETURN_IF_ERROR(CheckDiskRange(file_->name(), h_.capacity, offset, n, "read"));
  while (n > 0) {
    const uint64_t g = offset / h_.grain_bytes, in = offset % h_.grain_bytes;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(n, h_.grain_bytes - in));
    uint64_t at;
    RPFS_RETURN_IF_ERROR(GrainOffset(g, &at));
    if (at == 0) {
      std::memset(out, 0, len);
    } else {
      RPFS_RETURN_IF_ERROR(file_->ReadAt(at + in, len, out, "grain " + std::to_string(g)));
    }
    offset += len;
    out += len;
    n -= len;
  }
  return Status::OK();
}

Status SparseVmdkPatcher::Write(uint64_t offset, const char* data, size_t n) {
  RPFS_RETURN_IF_ERROR(CheckDiskRange(file_->name(), h_.capacity, offset, n, "write"));
  if (pending_.size() >= kMaxPendingEntries) RPFS_RETURN_IF_ERROR(FlushEntries());
  while (n > 0) {
    const uint64_t g = offset / h_.grain_bytes, in = offset % h_.grain_bytes;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(n, h_.grain_bytes - in));
    uint64_t at;
    RPFS_RETURN_IF_ERROR(GrainOffset(g, &at));
    if (at == 0 && !AllZero(data, len)) RPFS_RETURN_IF_ERROR(AllocateGrain(g, &at));
    if (at != 0) {
      RPFS_RETURN_IF_ERROR(file_->WriteAt(at + in, data, len, "data"));
      data_bytes_ += len;
    }
    offset += len;
    data += len;
    n -= len;
  }
  return Status::OK();
}

Status SparseVmdkPatcher::WriteEntries(const fs::GrainDirectory& gd) {
  std::string run;
  for (auto it = pending_.begin(); it != pending_.end();) {
    const uint64_t first = it->first;
    const size_t t = first / h_.gtes_per_gt;
    run.clear();
    for (uint64_t next = first; it != pending_.end() && it->first == next &&
                                it->first / h_.gtes_per_gt == t;
         ++it, ++next) {
      char le[4];
      PutLE32(le, it->second);
      run.append(le, 4);
    }
    const uint64_t at = gd.table_offset(t) + 4 * (first % h_.gtes_per_gt);
    RPFS_RETURN_IF_ERROR(file_->WriteAt(at, run.data(), run.size(), gd.TableName(t)));
    metadata_bytes_ += run.size();
  }
  return Status::OK();
}

Status SparseVmdkPatcher::FlushEntries() {
  if (pending_.empty()) return Status::OK();
  // An entry may reach the disk only after its grain's data, and the
  // primary only after the redundant copy: a rerun reads the primary, so
  // it never trusts an entry the other copy lacks. On an error everything
  // stays pending and the next flush writes it again.
  RPFS_RETURN_IF_ERROR(file_->DataSync());
  if (rgd_ != nullptr) {
    RPFS_RETURN_IF_ERROR(WriteEntries(*rgd_));
    RPFS_RETURN_IF_ERROR(file_->DataSync());
  }
  RPFS_RETURN_IF_ERROR(WriteEntries(*gd_));
  pending_.clear();
  return Status::OK();
}

Status SparseVmdkPatcher::Sync() {
  RPFS_RETURN_IF_ERROR(FlushEntries());
  return file_->DataSync();
}

}  // namespace rpfs::tools
