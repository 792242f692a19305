// OpenImage: tells a sparse extent, a descriptor and a raw image apart.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "fs/vmdk/extent_readers.h"
#include "fs/vmdk/sparse_extent_format.h"
#include "fs/vmdk/sparse_vmdk_reader.h"
#include "fs/vmdk/vmdk_descriptor_parser.h"

namespace rpfs::fs {
namespace {

// A monolithic sparse file's own descriptor must agree with its header.
Status CheckEmbeddedDescriptor(const SparseVmdkReader& r) {
  const SparseHeader& h = r.header();
  if (h.descriptor_bytes == 0) return Status::OK();
  const ByteSource& src = r.source();
  std::string text(h.descriptor_bytes, '\0');
  RPFS_RETURN_IF_ERROR(src.ReadAt(h.descriptor_offset, text.size(), text.data(), "descriptor"));
  VmdkDescriptor d;
  RPFS_RETURN_IF_ERROR(ParseVmdkDescriptor(text, src.name(), h.descriptor_offset, &d));
  if (d.parent_cid != 0xffffffffu || !d.parent_file_name_hint.empty()) {
    return Status::InvalidArgument(src.name() + ": descriptor at offset " +
                                   std::to_string(h.descriptor_offset) +
                                   ": a child disk (it has a parent) cannot be imported alone");
  }
  if (d.total_sectors * 512 != h.capacity) {
    return Status::InvalidArgument(src.name() + ": descriptor at offset " +
                                   std::to_string(h.descriptor_offset) + ": extents add up to " +
                                   std::to_string(d.total_sectors) +
                                   " sectors but the header's capacity is " +
                                   std::to_string(h.capacity / 512));
  }
  return Status::OK();
}

}  // namespace

Status OpenSparseImage(std::unique_ptr<ByteSource> src, std::unique_ptr<ImageReader>* out) {
  std::unique_ptr<SparseVmdkReader> sparse;
  RPFS_RETURN_IF_ERROR(SparseVmdkReader::Open(std::move(src), &sparse));
  RPFS_RETURN_IF_ERROR(CheckEmbeddedDescriptor(*sparse));
  *out = std::move(sparse);
  return Status::OK();
}

Status OpenImage(const std::string& path, const std::string& name,
                 std::unique_ptr<ImageReader>* out) {
  std::unique_ptr<ByteSource> src;
  RPFS_RETURN_IF_ERROR(OpenFileSource(path, name, &src));
  const uint64_t size = src->size();
  if (size == 0) return Status::InvalidArgument(name + " is empty");
  char magic[4] = {};
  if (size >= 4) RPFS_RETURN_IF_ERROR(src->ReadAt(0, 4, magic, "magic"));
  if (std::memcmp(magic, "KDMV", 4) == 0 || std::memcmp(magic, "COWD", 4) == 0) {
    return OpenSparseImage(std::move(src), out);
  }
  // A header whose magic is damaged still has the newline check bytes: a
  // corrupt VMDK, not a raw image to import as is.
  if (size >= 512) {
    char check[4];
    RPFS_RETURN_IF_ERROR(src->ReadAt(73, 4, check, "header"));
    if (std::memcmp(check, "\n \r\n", 4) == 0) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%x", GetLE32(magic));
      return Status::Corruption(name + ": header at offset 0: bad magic " + hex +
                                ", not KDMV (the rest is a sparse VMDK header)");
    }
  }
  if (size <= kMaxDescriptorBytes) {
    std::string text(size, '\0');
    RPFS_RETURN_IF_ERROR(src->ReadAt(0, text.size(), text.data(), "descriptor"));
    if (LooksLikeVmdkDescriptor(text)) return OpenDescriptorImage(path, name, text, out);
  }
  if (size > kMaxImageCapacity) {
    return Status::InvalidArgument(name + ": raw image of " + std::to_string(size) +
                                   " bytes is over " + std::to_string(kMaxImageCapacity >> 40) +
                                   " TiB");
  }
  *out = NewFlatReader(std::move(src), 0, size, "raw");
  return Status::OK();
}

}  // namespace rpfs::fs
