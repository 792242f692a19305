// `export --format vmdk-flat`: monolithicFlat, the layout the mount shows.
// OUT holds the descriptor (fs/vmdk/vmdk_descriptor.h, the mount's generator);
// STEM-flat.vmdk next to it holds the disk as a sparse raw extent.
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tools/images/image_export.h"

namespace rpfs::tools {

std::string ExtentPathFor(const std::string& out_path) {
  const size_t slash = out_path.find_last_of('/');
  const size_t name_at = slash == std::string::npos ? 0 : slash + 1;
  size_t dot = out_path.find_last_of('.');
  // A leading dot (".disk") names a file, it does not start an extension.
  if (dot == std::string::npos || dot <= name_at) dot = out_path.size();
  return out_path.substr(0, dot) + "-flat.vmdk";
}

Status ExportDescriptorParams(const catalog::Vault& vault, const catalog::Disk& disk,
                              catalog::View view, const std::string& extent_name,
                              fs::DescriptorParams* params) {
  fs::DescriptorParams p;
  p.capacity_bytes = disk.size;
  p.flat_file_name = extent_name;
  // "latest" is pinned to what the vault holds now.
  const uint64_t seq = std::min(view.seq, vault.last_seq());
  p.cid = fs::DescriptorCid(disk.name + "@" + std::to_string(view.branch) + "#" +
                                std::to_string(seq),
                            disk.created_ns);
  Status s = fs::CheckDescriptorParams(p);
  if (!s.ok()) {
    return Status::InvalidArgument("cannot name extent '" + extent_name +
                                   "' in a VMDK descriptor: " + s.message());
  }
  *params = std::move(p);
  return Status::OK();
}

Status EmbeddedDescriptor(const catalog::Vault& vault, const catalog::Disk& disk,
                          catalog::View view, const std::string& out_path,
                          fs::VmdkSubformat subformat, uint64_t max_bytes, std::string* text) {
  fs::DescriptorParams params;
  RPFS_RETURN_IF_ERROR(ExportDescriptorParams(vault, disk, view, BaseName(out_path), &params));
  *text = fs::GenerateDescriptor(subformat, params);
  if (text->size() > max_bytes) {
    return Status::Internal(std::string(fs::CreateTypeName(subformat)) + ": descriptor of " +
                            std::to_string(text->size()) + " bytes does not fit its " +
                            std::to_string(max_bytes) + " bytes");
  }
  return Status::OK();
}

Status ExportFlatVmdk(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                      const std::string& out_path, ExportResult* result,
                      const ExportProgress& progress) {
  *result = ExportResult();
  const std::string extent_path = ExtentPathFor(out_path);
  fs::DescriptorParams params;
  RPFS_RETURN_IF_ERROR(ExportDescriptorParams(vault, disk, view, BaseName(extent_path), &params));
  const std::string text = fs::GenerateDescriptor(fs::VmdkSubformat::kMonolithicFlat, params);

  std::unique_ptr<OutputFile> descriptor, extent;
  RPFS_RETURN_IF_ERROR(OutputFile::Create(out_path, &descriptor));
  RPFS_RETURN_IF_ERROR(OutputFile::Create(extent_path, &extent));
  RPFS_RETURN_IF_ERROR(descriptor->WriteAt(0, text.data(), text.size()));
  RPFS_RETURN_IF_ERROR(WriteRawImage(vault, disk, view, extent.get(), result, progress));
  // The extent first: a descriptor is never left naming a missing extent.
  RPFS_RETURN_IF_ERROR(extent->Commit());
  Status s = descriptor->Commit();
  if (!s.ok()) {
    ::unlink(extent_path.c_str());
    return s;
  }
  result->file_bytes = disk.size + text.size();
  return Status::OK();
}

}  // namespace rpfs::tools
