// `export --format vmdk-sparse`: one monolithicSparse file, laid out as
// qemu-img and VMware Workstation create them (fs/vmdk/sparse_extent_format.h
// has the byte formats), in sectors:
//
//   0                      header (version 1, flags: new-line test, redundant GD)
//   1 .. 20                embedded descriptor (createType="monolithicSparse")
//   21                     redundant grain directory, then its grain tables
//   gdOffset               grain directory, then its grain tables
//   overHead (grain-aligned)  grains, uncompressed, in disk order
//
// Every grain table is preallocated (a hole until it has an entry, which
// reads as zeros: no grain); only grains holding data are written. Grains
// arrive in disk order, so a grain table is complete once the scan leaves
// it: it is written then, to both copies, and only that table is in memory.
// A partial last grain is written zero-padded to a whole grain.
//
// Grain-table entries are 32-bit sector numbers, so the file must end
// before 2^32 sectors (2 TiB); a disk that could pass it is refused up front.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "tools/images/grain_scan.h"
#include "tools/images/image_export.h"
#include "fs/vmdk/vmdk_sparse_encoding.h"

namespace rpfs::tools {
namespace {

using vmdk::kGtesPerGt;
using vmdk::kGtSectors;

struct Layout {
  vmdk::SparseGeometry geometry;
  uint64_t rgd = 0, rgt = 0, gd = 0, gt = 0, overhead = 0;  // sectors
};

Layout LayoutFor(uint64_t capacity_sectors, uint64_t grain_sectors) {
  Layout l;
  l.geometry = vmdk::GeometryFor(capacity_sectors, grain_sectors);
  const uint64_t tables = l.geometry.gt_count * kGtSectors;
  l.rgd = 1 + vmdk::kDescriptorSectors;
  l.rgt = l.rgd + l.geometry.gd_sectors;
  l.gd = l.rgt + tables;
  l.gt = l.gd + l.geometry.gd_sectors;
  l.overhead = vmdk::DivRoundUp(l.gt + tables, grain_sectors) * grain_sectors;
  return l;
}

// A grain directory whose table i sits at first_table + i * kGtSectors.
std::string GrainDirectory(const Layout& l, uint64_t first_table) {
  std::string gd(l.geometry.gd_sectors * vmdk::kSector, '\0');
  for (uint64_t i = 0; i < l.geometry.gt_count; ++i) {
    PutLE32(gd.data() + 4 * i, static_cast<uint32_t>(first_table + i * kGtSectors));
  }
  return gd;
}

}  // namespace

Status ExportSparseVmdk(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                        const std::string& out_path, ExportResult* result,
                        const ExportProgress& progress, const SparseExportOptions& options) {
  *result = ExportResult();
  const uint64_t grain_sectors = options.grain_sectors;
  // VMware: a power of two greater than 8 sectors (4 KiB); qemu and VMware write 128.
  if (grain_sectors < 16 || grain_sectors > 128 || (grain_sectors & (grain_sectors - 1)) != 0) {
    return Status::InvalidArgument("vmdk-sparse grain size " + std::to_string(grain_sectors) +
                                   " sectors: must be a power of two from 16 to 128");
  }
  const uint64_t grain_bytes = grain_sectors * vmdk::kSector;
  const uint64_t capacity = disk.size / vmdk::kSector;
  const Layout l = LayoutFor(capacity, grain_sectors);
  if (l.overhead + l.geometry.grains * grain_sectors > UINT32_MAX) {
    return Status::InvalidArgument("disk " + disk.name + " (" + std::to_string(disk.size) +
                                   " bytes) is too big for vmdk-sparse, whose grain tables "
                                   "address at most 2 TiB; use vmdk-flat or raw");
  }

  std::string text;
  RPFS_RETURN_IF_ERROR(EmbeddedDescriptor(vault, disk, view, out_path,
                                          fs::VmdkSubformat::kMonolithicSparse,
                                          vmdk::kDescriptorSectors * vmdk::kSector, &text));

  std::unique_ptr<OutputFile> out;
  RPFS_RETURN_IF_ERROR(OutputFile::Create(out_path, &out));
  out->SyncInBackground();  // the final fsync then has little left to do
  vmdk::SparseHeader h;
  h.version = 1;
  h.flags = fs::kFlagNewlineCheck | fs::kFlagRedundantGd;
  h.capacity = capacity;
  h.grain_size = grain_sectors;
  h.descriptor_offset = 1;
  h.descriptor_size = vmdk::kDescriptorSectors;
  h.rgd_offset = l.rgd;
  h.gd_offset = l.gd;
  h.overhead = l.overhead;
  char header[vmdk::kSector];
  vmdk::EncodeSparseHeader(h, header);
  RPFS_RETURN_IF_ERROR(out->WriteAt(0, header, sizeof header));
  RPFS_RETURN_IF_ERROR(out->WriteAt(vmdk::kSector, text.data(), text.size()));
  const std::string rgd = GrainDirectory(l, l.rgt);
  RPFS_RETURN_IF_ERROR(out->WriteAt(l.rgd * vmdk::kSector, rgd.data(), rgd.size()));
  const std::string gd = GrainDirectory(l, l.gt);
  RPFS_RETURN_IF_ERROR(out->WriteAt(l.gd * vmdk::kSector, gd.data(), gd.size()));

  // The grain table being filled: table `table`, entries for its grains.
  std::string table_bytes(kGtSectors * vmdk::kSector, '\0');
  uint64_t table = UINT64_MAX;
  bool table_used = false;
  auto write_table = [&]() -> Status {
    if (!table_used) return Status::OK();
    table_used = false;
    for (uint64_t at : {l.gt, l.rgt}) {
      RPFS_RETURN_IF_ERROR(out->WriteAt((at + table * kGtSectors) * vmdk::kSector,
                                        table_bytes.data(), table_bytes.size()));
    }
    return Status::OK();
  };

  RPFS_RETURN_IF_ERROR(out->SetAppendOffset(l.overhead * vmdk::kSector));
  Status s = ScanGrains(vault, disk, view, grain_bytes,
                        [&](uint64_t grain, const char* data, size_t len) -> Status {
    if (grain / kGtesPerGt != table) {
      RPFS_RETURN_IF_ERROR(write_table());
      std::memset(table_bytes.data(), 0, table_bytes.size());
      table = grain / kGtesPerGt;
    }
    const uint64_t sector = out->append_offset() / vmdk::kSector;
    PutLE32(table_bytes.data() + 4 * (grain % kGtesPerGt), static_cast<uint32_t>(sector));
    table_used = true;
    RPFS_RETURN_IF_ERROR(out->Append(data, grain_bytes));
    result->data_bytes += len;
    if (progress) progress(grain * grain_bytes + len, disk.size);
    return Status::OK();
  });
  RPFS_RETURN_IF_ERROR(s);
  RPFS_RETURN_IF_ERROR(write_table());
  return out->CommitAppended(&result->file_bytes);
}

}  // namespace rpfs::tools
