// A VMDK descriptor file's disk: its extents (FLAT, VMFS, SPARSE,
// VMFSSPARSE with a KDMV header, ZERO), each checked before any is read.
#include "fs/vmdk/extent_readers.h"
#include "fs/vmdk/sparse_vmdk_reader.h"
#include "fs/vmdk/vmdk_descriptor_parser.h"

namespace rpfs::fs {
namespace {

constexpr uint32_t kNoParent = 0xffffffffu;

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// An extent's file, relative to the descriptor's directory unless absolute.
std::string ExtentPath(const std::string& descriptor, const std::string& file) {
  return !file.empty() && file[0] == '/' ? file : DirOf(descriptor) + file;
}

std::string LineWhere(const std::string& name, const DescriptorExtent& e) {
  return name + ": extent line " + std::to_string(e.line) + " (offset " +
         std::to_string(e.line_offset) + ")";
}

// Opens extent e (checking it fully) as a reader of exactly its length.
Status OpenExtent(const std::string& path, const std::string& name, const DescriptorExtent& e,
                  std::unique_ptr<ImageReader>* out) {
  const uint64_t length = e.sectors * 512;
  if (e.type == ExtentType::kZero) {
    *out = NewZeroReader(length);
    return Status::OK();
  }
  const std::string file_path = ExtentPath(path, e.file);
  const std::string file_name = ExtentPath(name, e.file);
  std::unique_ptr<ByteSource> src;
  Status s = OpenFileSource(file_path, file_name, &src);
  if (!s.ok()) {
    if (s.code() != Status::Code::kInvalidArgument) return s;
    return Status::InvalidArgument(LineWhere(name, e) + ": " + s.message());
  }
  if (e.type == ExtentType::kFlat || e.type == ExtentType::kVmfs) {
    const uint64_t start = e.offset_sectors * 512;
    if (start > src->size() || length > src->size() - start) {
      return Status::InvalidArgument(
          LineWhere(name, e) + ": extent needs bytes " + std::to_string(start) + " to " +
          std::to_string(start + length) + " of " + file_name + ", which has " +
          std::to_string(src->size()) + " bytes");
    }
    *out = NewFlatReader(std::move(src), start, length, std::string(ExtentTypeName(e.type)));
    return Status::OK();
  }
  std::unique_ptr<SparseVmdkReader> sparse;
  RPFS_RETURN_IF_ERROR(SparseVmdkReader::Open(std::move(src), &sparse));
  if (sparse->capacity() != length) {
    return Status::InvalidArgument(LineWhere(name, e) + ": extent of " +
                                   std::to_string(e.sectors) + " sectors, but " + file_name +
                                   "'s header says " + std::to_string(sparse->capacity() / 512));
  }
  *out = std::move(sparse);
  return Status::OK();
}

}  // namespace

Status OpenDescriptorImage(const std::string& path, const std::string& name,
                           const std::string& text, std::unique_ptr<ImageReader>* out) {
  VmdkDescriptor d;
  RPFS_RETURN_IF_ERROR(ParseVmdkDescriptor(text, name, 0, &d));
  if (d.parent_cid != kNoParent || !d.parent_file_name_hint.empty()) {
    return Status::InvalidArgument(name + ": descriptor: a child disk (it has a parent) cannot be "
                                   "imported alone; flatten it first (qemu-img convert)");
  }
  uint64_t sum = 0;
  for (const DescriptorExtent& e : d.extents) {
    sum += e.sectors;  // the parser bounds the sum
    if (sum > kMaxImageCapacity / 512) {
      return Status::InvalidArgument(LineWhere(name, e) + ": extents add up to " +
                                     std::to_string(sum) + " sectors, over " +
                                     std::to_string(kMaxImageCapacity >> 40) + " TiB");
    }
    if (e.access == ExtentAccess::kNoAccess) {
      return Status::InvalidArgument(LineWhere(name, e) + ": NOACCESS extent cannot be read");
    }
    bool supported = e.type == ExtentType::kFlat || e.type == ExtentType::kVmfs ||
                     e.type == ExtentType::kSparse || e.type == ExtentType::kVmfsSparse ||
                     e.type == ExtentType::kZero;
    if (!supported) {
      return Status::InvalidArgument(LineWhere(name, e) + ": " +
                                     std::string(ExtentTypeName(e.type)) +
                                     " extents are not supported");
    }
  }
  // Check every extent now; keep the first open for streaming.
  std::vector<ExtentPlan> plans;
  std::unique_ptr<ImageReader> first;
  uint64_t at = 0;
  for (const DescriptorExtent& e : d.extents) {
    std::unique_ptr<ImageReader> r;
    RPFS_RETURN_IF_ERROR(OpenExtent(path, name, e, &r));
    if (plans.empty()) first = std::move(r);
    ExtentPlan p;
    p.disk_offset = at;
    p.length = e.sectors * 512;
    p.open = [path, name, e](std::unique_ptr<ImageReader>* o) {
      return OpenExtent(path, name, e, o);
    };
    plans.push_back(std::move(p));
    at += e.sectors * 512;
  }
  *out = NewConcatReader(std::move(plans), std::move(first), d.create_type);
  return Status::OK();
}

}  // namespace rpfs::fs
