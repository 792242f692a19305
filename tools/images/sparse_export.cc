// `export --format raw`: the disk as a sparse raw image. Only blocks that
// hold data are written, in runs of up to 32 MiB while the next runs are
// read (ScanDataRuns, wide: a disk written randomly is read in long runs
// of the journal); everything else stays a hole. Cost: one index seek
// per mapped block plus its share of a batched read, nothing per hole.
// The file is synced in the background every 64 MiB while the next runs
// are read and decoded (OutputFile::SyncInBackground), so the final fsync
// has little left to do.
#include <string>

#include "tools/images/data_runs.h"
#include "tools/images/image_export.h"

namespace rpfs::tools {

Status WriteRawImage(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                     OutputFile* out, ExportResult* result, const ExportProgress& progress) {
  out->SyncInBackground();
  Status s = ScanDataRuns(vault, disk, view,
                          [&](uint64_t offset, const char* data, size_t len) -> Status {
    RPFS_RETURN_IF_ERROR(out->WriteAt(offset, data, len));
    result->data_bytes += len;
    if (progress) progress(offset + len, disk.size);
    return Status::OK();
  }, catalog::ScanWindow::kWide);
  RPFS_RETURN_IF_ERROR(s);
  return out->Truncate(disk.size);
}

Status ExportRaw(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                 const std::string& out_path, ExportResult* result,
                 const ExportProgress& progress) {
  *result = ExportResult();
  std::unique_ptr<OutputFile> out;
  RPFS_RETURN_IF_ERROR(OutputFile::Create(out_path, &out));
  RPFS_RETURN_IF_ERROR(WriteRawImage(vault, disk, view, out.get(), result, progress));
  RPFS_RETURN_IF_ERROR(out->Commit());
  result->file_bytes = disk.size;
  return Status::OK();
}

}  // namespace rpfs::tools
