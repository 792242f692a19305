// `rpfs export`: a disk as of a view, materialized as an image file.
//
//   raw          sparse raw image: every byte of the disk at its offset,
//                holes where the disk holds no data (tools/images/sparse_export.cc)
//   vmdk-flat    monolithicFlat: OUT is the descriptor, the data is a sparse
//                raw extent STEM-flat.vmdk next to it (flat_vmdk_export.cc)
//   vmdk-sparse  monolithicSparse: one hosted sparse extent with its
//                descriptor embedded, a redundant grain directory, grain
//                tables preallocated, only grains holding data written
//                (sparse_vmdk_export.cc)
//   vmdk-stream  streamOptimized, as ESXi and OVF tools import: deflated
//                grains with markers, each grain table after its grains, the
//                grain directory and a footer at the end, end-of-stream
//                marker; grains compressed on every core
//                (stream_vmdk_export.cc)
//
// Common contract: only blocks that hold data are read (Vault::ScanData, in
// block order), so time and output size follow the data, not the capacity;
// memory stays bounded whatever the disk size. Every file is written as
// NAME.tmp and renamed on success; on failure nothing is left behind and
// the Status names the file and the offset. `progress` (optional) is called
// with the disk offset reached and the disk size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "catalog/vault.h"
#include "fs/vmdk/vmdk_descriptor.h"
#include "tools/images/output_file.h"

namespace rpfs::tools {

struct ExportResult {
  uint64_t data_bytes = 0;  // disk bytes written out (blocks or grains holding data)
  uint64_t file_bytes = 0;  // size of the image file(s)
};

using ExportProgress = std::function<void(uint64_t done, uint64_t total)>;

Status ExportRaw(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                 const std::string& out_path, ExportResult* result,
                 const ExportProgress& progress = nullptr);

// The descriptor goes to out_path; the extent to ExtentPathFor(out_path).
Status ExportFlatVmdk(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                      const std::string& out_path, ExportResult* result,
                      const ExportProgress& progress = nullptr);

struct SparseExportOptions {
  uint64_t grain_sectors = 128;  // a power of two from 16 (8 KiB) to 128 (64 KiB)
};
Status ExportSparseVmdk(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                        const std::string& out_path, ExportResult* result,
                        const ExportProgress& progress = nullptr,
                        const SparseExportOptions& options = {});

struct StreamExportOptions {
  // zlib level for the grains that deflate. 3: on the benchmark image
  // (scripts/image_bench.sh) it costs 3% more time than level 1 for 10%
  // smaller compressed grains, and 35% less time than qemu-img's level 6
  // for 16% bigger ones.
  int zlib_level = 3;
  // Compressor threads; 0 = std::thread::hardware_concurrency().
  unsigned threads = 0;
};
Status ExportStreamVmdk(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                        const std::string& out_path, ExportResult* result,
                        const ExportProgress& progress = nullptr,
                        const StreamExportOptions& options = {});

// --- shared by the exporters --------------------------------------------------------------

// "dir/disk0.vmdk" -> "dir/disk0-flat.vmdk"; "dir/disk0" -> "dir/disk0-flat.vmdk".
std::string ExtentPathFor(const std::string& out_path);

// Writes the disk's data blocks into `out` at their offsets (holes stay
// holes) and sets its length to the disk size. Adds to result->data_bytes.
Status WriteRawImage(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                     OutputFile* out, ExportResult* result, const ExportProgress& progress);

// Descriptor fields for an exported image of `disk` whose extent file is
// named `extent_name`: the CID follows the disk and the view, so exporting
// the same point twice gives the same bytes. InvalidArgument if the name
// cannot go into a descriptor.
Status ExportDescriptorParams(const catalog::Vault& vault, const catalog::Disk& disk,
                              catalog::View view, const std::string& extent_name,
                              fs::DescriptorParams* params);

// The descriptor embedded in a sparse or stream image at out_path (which
// names itself as the extent), checked to fit its `max_bytes` of sectors.
Status EmbeddedDescriptor(const catalog::Vault& vault, const catalog::Disk& disk,
                          catalog::View view, const std::string& out_path,
                          fs::VmdkSubformat subformat, uint64_t max_bytes, std::string* text);

}  // namespace rpfs::tools
