// `export --format vmdk-stream`: a streamOptimized VMDK, the format ESXi and
// OVF/OVA tools import (VMware "Virtual Disk Format 5.0", "Stream-Optimized
// Compressed Sparse Extents"; byte formats in fs/vmdk/sparse_extent_format.h).
// The file can be produced and consumed front to back, in sectors:
//
//   0          header: version 3, flags new-line test + compressed grains
//              + markers, compressAlgorithm 1 (deflate), gdOffset GD_AT_END
//   1 .. 20    embedded descriptor (createType="streamOptimized")
//   overHead   for each grain table holding data, in disk order:
//                its grains, each a grain marker + zlib data, sector-padded
//                a GT marker, then the grain table (4 sectors)
//              GD marker, grain directory (0 for tables never written)
//              footer marker, footer (the header with the real gdOffset)
//              end-of-stream marker
//
// Zero and unwritten grains are not written at all. The last grain of a
// disk that is not a multiple of 64 KiB is compressed at its true length.
//
// Grains are compressed on every core: a reader thread walks the disk
// (ScanGrains) and feeds an OrderedPipeline of `threads` GrainDeflaters
// (which store incompressible grains rather than deflate them);
// this thread writes their output in disk order. At most 4 grains per
// compressor are in flight, so memory stays around a megabyte.
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fs/vmdk/grain_deflater.h"
#include "tools/images/grain_scan.h"
#include "tools/images/image_export.h"
#include "tools/images/ordered_pipeline.h"
#include "fs/vmdk/vmdk_sparse_encoding.h"

namespace rpfs::tools {
namespace {

using vmdk::kGtesPerGt;
using vmdk::kGtSectors;

constexpr uint64_t kGrainSectors = vmdk::kDefaultGrainSectors;
constexpr uint64_t kGrainBytes = kGrainSectors * vmdk::kSector;

struct RawGrain {
  uint64_t grain = 0;
  std::string data;  // the grain's bytes inside the disk
};

struct PackedGrain {
  uint64_t grain = 0;
  size_t len = 0;     // disk bytes it holds
  std::string bytes;  // grain marker + zlib data + padding: whole sectors
  Status status;
};

// The writing side: the file from the first grain on, in order.
class StreamWriter {
 public:
  StreamWriter(OutputFile* out, uint64_t gt_count) : out_(out), gd_(gt_count, 0) {}

  Status AddGrain(const PackedGrain& g) {
    if (g.grain / kGtesPerGt != table_) {
      RPFS_RETURN_IF_ERROR(FinishTable());
      table_ = g.grain / kGtesPerGt;
    }
    uint32_t sector;
    RPFS_RETURN_IF_ERROR(Sector(&sector));
    PutLE32(table_bytes_ + 4 * (g.grain % kGtesPerGt), sector);
    table_used_ = true;
    return out_->Append(g.bytes.data(), g.bytes.size());
  }

  // Writes the last table, the directory, the footer and end of stream.
  Status Finish(vmdk::SparseHeader footer) {
    RPFS_RETURN_IF_ERROR(FinishTable());
    std::string gd(vmdk::DivRoundUp(gd_.size() * 4, vmdk::kSector) * vmdk::kSector, '\0');
    for (size_t i = 0; i < gd_.size(); ++i) PutLE32(gd.data() + 4 * i, gd_[i]);
    char sector[vmdk::kSector];
    vmdk::EncodeMetadataMarker(fs::kMarkerGrainDirectory, gd.size() / vmdk::kSector,
                               sector);
    RPFS_RETURN_IF_ERROR(out_->Append(sector, sizeof sector));
    footer.gd_offset = out_->append_offset() / vmdk::kSector;
    RPFS_RETURN_IF_ERROR(out_->Append(gd.data(), gd.size()));
    vmdk::EncodeMetadataMarker(fs::kMarkerFooter, 1, sector);
    RPFS_RETURN_IF_ERROR(out_->Append(sector, sizeof sector));
    vmdk::EncodeSparseHeader(footer, sector);
    RPFS_RETURN_IF_ERROR(out_->Append(sector, sizeof sector));
    vmdk::EncodeMetadataMarker(fs::kMarkerEndOfStream, 0, sector);
    return out_->Append(sector, sizeof sector);
  }

 private:
  // The sector the next append lands on; grain tables hold 32-bit sectors.
  Status Sector(uint32_t* sector) {
    const uint64_t s = out_->append_offset() / vmdk::kSector;
    if (s > UINT32_MAX) {
      return Status::InvalidArgument("vmdk-stream: " + out_->tmp_path() +
                                     " would pass 2 TiB, more than a grain table can address");
    }
    *sector = static_cast<uint32_t>(s);
    return Status::OK();
  }

  Status FinishTable() {
    if (!table_used_) return Status::OK();
    char marker[vmdk::kSector];
    vmdk::EncodeMetadataMarker(fs::kMarkerGrainTable, kGtSectors, marker);
    RPFS_RETURN_IF_ERROR(out_->Append(marker, sizeof marker));
    uint32_t sector;
    RPFS_RETURN_IF_ERROR(Sector(&sector));
    gd_[table_] = sector;
    RPFS_RETURN_IF_ERROR(out_->Append(table_bytes_, sizeof table_bytes_));
    std::memset(table_bytes_, 0, sizeof table_bytes_);
    table_used_ = false;
    return Status::OK();
  }

  OutputFile* out_;
  std::vector<uint32_t> gd_;  // one entry per grain table: 4 bytes per 32 MiB of disk
  uint64_t table_ = UINT64_MAX;
  bool table_used_ = false;
  char table_bytes_[kGtSectors * vmdk::kSector] = {};
};

}  // namespace

Status ExportStreamVmdk(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                        const std::string& out_path, ExportResult* result,
                        const ExportProgress& progress, const StreamExportOptions& options) {
  *result = ExportResult();
  if (options.zlib_level < 1 || options.zlib_level > 9) {
    return Status::InvalidArgument("zlib level " + std::to_string(options.zlib_level) +
                                   ": must be 1 to 9");
  }
  std::string text;
  RPFS_RETURN_IF_ERROR(EmbeddedDescriptor(vault, disk, view, out_path,
                                          fs::VmdkSubformat::kStreamOptimized,
                                          vmdk::kDescriptorSectors * vmdk::kSector, &text));
  const uint64_t capacity = disk.size / vmdk::kSector;
  const vmdk::SparseGeometry geometry = vmdk::GeometryFor(capacity, kGrainSectors);

  vmdk::SparseHeader h;
  h.version = 3;
  h.flags = fs::kFlagNewlineCheck | fs::kFlagCompressed | fs::kFlagMarkers;
  h.capacity = capacity;
  h.grain_size = kGrainSectors;
  h.descriptor_offset = 1;
  h.descriptor_size = vmdk::kDescriptorSectors;
  h.gd_offset = fs::kGdAtEnd;
  h.overhead = vmdk::DivRoundUp(1 + vmdk::kDescriptorSectors, kGrainSectors) * kGrainSectors;
  h.compress_algorithm = fs::kCompressDeflate;

  std::unique_ptr<OutputFile> out;
  RPFS_RETURN_IF_ERROR(OutputFile::Create(out_path, &out));
  out->SyncInBackground();  // the final fsync then has little left to do
  char header[vmdk::kSector];
  vmdk::EncodeSparseHeader(h, header);
  RPFS_RETURN_IF_ERROR(out->Append(header, sizeof header));
  RPFS_RETURN_IF_ERROR(out->Append(text.data(), text.size()));
  RPFS_RETURN_IF_ERROR(out->AppendZeros(h.overhead * vmdk::kSector - out->append_offset()));

  unsigned threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  if (threads == 0) threads = 1;
  std::vector<std::unique_ptr<GrainDeflater>> deflaters;
  for (unsigned i = 0; i < threads; ++i) {
    deflaters.push_back(std::make_unique<GrainDeflater>(options.zlib_level));
  }
  OrderedPipeline<RawGrain, PackedGrain> pipeline(
      threads, 4 * size_t{threads},
      [&](unsigned worker, RawGrain& in, PackedGrain* packed) {
        packed->grain = in.grain;
        packed->len = in.data.size();
        packed->status = deflaters[worker]->Pack(in.grain, kGrainSectors, in.data.data(),
                                                 in.data.size(), &packed->bytes);
      });

  Status read_status;
  std::thread reader([&] {
    read_status = ScanGrains(vault, disk, view, kGrainBytes,
                             [&](uint64_t grain, const char* data, size_t len) -> Status {
      if (!pipeline.Push(RawGrain{grain, std::string(data, len)})) {
        return Status::Internal("export cancelled");  // the writer failed; it reports why
      }
      return Status::OK();
    });
    pipeline.Close();
  });

  StreamWriter writer(out.get(), geometry.gt_count);
  Status write_status;
  PackedGrain g;
  while (pipeline.Pop(&g)) {
    write_status = g.status.ok() ? writer.AddGrain(g) : g.status;
    if (!write_status.ok()) {
      pipeline.Cancel();
      break;
    }
    result->data_bytes += g.len;
    if (progress) progress(g.grain * kGrainBytes + g.len, disk.size);
  }
  reader.join();
  RPFS_RETURN_IF_ERROR(write_status);
  RPFS_RETURN_IF_ERROR(read_status);

  RPFS_RETURN_IF_ERROR(writer.Finish(h));
  return out->CommitAppended(&result->file_bytes);
}

}  // namespace rpfs::tools
