// FailbackTarget::Open: tells a sparse VMDK, a flat VMDK's descriptor and a
// raw image apart (as fs/vmdk/open_image.cc does for import), and the target
// for raw images and FLAT extents. Sparse files: tools/dr/sparse_vmdk_patcher.cc.
#include "tools/dr/failback_target.h"

#include <cstdio>
#include <cstring>

#include "fs/vmdk/sparse_extent_format.h"
#include "fs/vmdk/vmdk_descriptor_parser.h"
#include "tools/dr/sparse_vmdk_patcher.h"
#include "tools/dr/target_file.h"

namespace rpfs::tools {
namespace {

constexpr uint32_t kNoParent = 0xffffffffu;

// The disk is bytes [start, start + length) of one file: a raw image, or a
// descriptor's FLAT or VMFS extent. Writes land where they belong.
class FlatTarget : public FailbackTarget {
 public:
  FlatTarget(std::unique_ptr<TargetFile> file, uint64_t start, uint64_t length,
             std::string format)
      : file_(std::move(file)), start_(start), length_(length), format_(std::move(format)) {}

  uint64_t size() const override { return length_; }
  std::string format() const override { return format_; }

  Status Read(uint64_t offset, size_t n, char* out) override {
    RPFS_RETURN_IF_ERROR(CheckDiskRange(file_->name(), length_, offset, n, "read"));
    return file_->ReadAt(start_ + offset, n, out, "disk data");
  }

  Status Write(uint64_t offset, const char* data, size_t n) override {
    RPFS_RETURN_IF_ERROR(CheckDiskRange(file_->name(), length_, offset, n, "write"));
    RPFS_RETURN_IF_ERROR(file_->WriteAt(start_ + offset, data, n, "data"));
    data_bytes_ += n;
    return Status::OK();
  }

  Status Sync() override { return file_->DataSync(); }
  uint64_t data_bytes_written() const override { return data_bytes_; }
  uint64_t metadata_bytes_written() const override { return 0; }

 private:
  std::unique_ptr<TargetFile> file_;
  uint64_t start_, length_;
  std::string format_;
  uint64_t data_bytes_ = 0;
};


std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// Descriptors whose single extent is the whole disk, stored flat.
bool FlatCreateType(const std::string& t) {
  return t == "monolithicFlat" || t == "vmfs" || t == "vmfsPreallocated" ||
         t == "vmfsEagerZeroedThick";
}

// An extent's file, relative to the descriptor's directory unless absolute.
std::string ExtentPath(const std::string& descriptor, const std::string& file) {
  if (!file.empty() && file[0] == '/') return file;
  size_t slash = descriptor.rfind('/');
  return (slash == std::string::npos ? std::string() : descriptor.substr(0, slash + 1)) + file;
}

Status OpenFlatDescriptor(const std::string& path, const std::string& text,
                          std::unique_ptr<FailbackTarget>* out) {
  fs::VmdkDescriptor d;
  RPFS_RETURN_IF_ERROR(fs::ParseVmdkDescriptor(text, path, 0, &d));
  if (d.parent_cid != kNoParent || !d.parent_file_name_hint.empty()) {
    return Status::InvalidArgument(path + ": descriptor: a child disk (parentCID " +
                                   Hex(d.parent_cid) + ") cannot be updated in place");
  }
  if (!FlatCreateType(d.create_type)) {
    return Status::InvalidArgument(path + ": descriptor: createType \"" + d.create_type +
                                   "\" cannot be updated in place (raw, monolithicFlat, vmfs "
                                   "and monolithicSparse can)");
  }
  if (d.extents.size() != 1) {
    return Status::InvalidArgument(path + ": descriptor: " + std::to_string(d.extents.size()) +
                                   " extents; only a disk of one FLAT extent can be updated "
                                   "in place");
  }
  const fs::DescriptorExtent& e = d.extents[0];
  const std::string where = path + ": extent line " + std::to_string(e.line) + " (offset " +
                            std::to_string(e.line_offset) + ")";
  if (e.type != fs::ExtentType::kFlat && e.type != fs::ExtentType::kVmfs) {
    return Status::InvalidArgument(where + ": " + std::string(fs::ExtentTypeName(e.type)) +
                                   " extent cannot be updated in place");
  }
  if (e.access != fs::ExtentAccess::kReadWrite) {
    return Status::InvalidArgument(where + ": the extent is not RW");
  }
  const std::string file_path = ExtentPath(path, e.file);
  std::unique_ptr<TargetFile> file;
  Status s = TargetFile::Open(file_path, file_path, &file);
  if (!s.ok()) {
    if (s.code() != Status::Code::kInvalidArgument) return s;
    return Status::InvalidArgument(where + ": " + s.message());
  }
  // The parser keeps sectors and offsets within INT64_MAX bytes.
  const uint64_t start = e.offset_sectors * fs::kSector, length = e.sectors * fs::kSector;
  if (start > file->size() || length > file->size() - start) {
    return Status::InvalidArgument(where + ": the extent needs bytes " + std::to_string(start) +
                                   " to " + std::to_string(start + length) + " of " +
                                   file_path + ", which has " + std::to_string(file->size()) +
                                   " bytes");
  }
  *out = std::make_unique<FlatTarget>(std::move(file), start, length, "vmdk-flat");
  return Status::OK();
}

}  // namespace

Status FailbackTarget::Open(const std::string& path, std::unique_ptr<FailbackTarget>* out) {
  std::unique_ptr<TargetFile> file;
  RPFS_RETURN_IF_ERROR(TargetFile::Open(path, path, &file));
  const uint64_t size = file->size();
  if (size == 0) return Status::InvalidArgument(path + " is empty");
  char head[fs::kSector] = {};
  RPFS_RETURN_IF_ERROR(file->ReadAt(0, size < sizeof head ? size : sizeof head, head, "header"));
  if (std::memcmp(head, "KDMV", 4) == 0) return OpenSparseTarget(std::move(file), out);
  if (std::memcmp(head, "COWD", 4) == 0) {
    return Status::InvalidArgument(path + ": COWD (ESX 3 vmfsSparse) extents cannot be "
                                          "updated in place");
  }
  // A sparse header whose magic is damaged still has its newline check
  // bytes: a corrupt VMDK, which must not be overwritten as a raw image.
  if (size >= fs::kSector && std::memcmp(head + 73, "\n \r\n", 4) == 0) {
    return Status::Corruption(path + ": header at offset 0: bad magic 0x" +
                              Hex(GetLE32(head)) +
                              ", not KDMV (the rest is a sparse VMDK header)");
  }
  if (size <= fs::kMaxDescriptorBytes) {
    std::string text(size, '\0');
    RPFS_RETURN_IF_ERROR(file->ReadAt(0, text.size(), text.data(), "descriptor"));
    if (fs::LooksLikeVmdkDescriptor(text)) {
      return OpenFlatDescriptor(path, std::string(DescriptorText(text)), out);
    }
  }
  *out = std::make_unique<FlatTarget>(std::move(file), 0, size, "raw");
  return Status::OK();
}

}  // namespace rpfs::tools
