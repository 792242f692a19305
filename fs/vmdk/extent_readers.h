// The ImageReaders OpenImage() composes (fs/vmdk/image_reader.h), one per kind
// of extent, and the reader that strings a descriptor's extents together.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/image_reader.h"

namespace rpfs::fs {

// Bytes [start, start + length) of src as a disk of `length` bytes (a raw
// image, a FLAT or VMFS extent). The caller has checked they lie in src.
// Holes of the file (SEEK_DATA) are skipped.
std::unique_ptr<ImageReader> NewFlatReader(std::unique_ptr<ByteSource> src, uint64_t start,
                                           uint64_t length, std::string format);

// A ZERO extent: `length` bytes that read as zeros, so no runs.
std::unique_ptr<ImageReader> NewZeroReader(uint64_t length);

// One extent of a disk: where it starts on the disk, its length, and how to
// open it (again: OpenImage checks every extent up front, then reopens
// them one at a time while streaming, so memory and open files stay
// bounded whatever the extent count).
struct ExtentPlan {
  uint64_t disk_offset = 0;
  uint64_t length = 0;
  std::function<Status(std::unique_ptr<ImageReader>*)> open;
};

// The extents back to back. `first`, if set, is extents[0] already open.
std::unique_ptr<ImageReader> NewConcatReader(std::vector<ExtentPlan> extents,
                                             std::unique_ptr<ImageReader> first,
                                             std::string format);

// A sparse extent file as a whole disk (monolithicSparse, streamOptimized):
// the extent, checked, and its embedded descriptor, if any, checked
// against its header. The fuzz target feeds it memory.
Status OpenSparseImage(std::unique_ptr<ByteSource> src, std::unique_ptr<ImageReader>* out);

// A descriptor file's disk: parses the text read from `path` (`name` in
// messages), checks every extent (file present, sizes, its own metadata)
// and returns their concatenation.
Status OpenDescriptorImage(const std::string& path, const std::string& name,
                           const std::string& text, std::unique_ptr<ImageReader>* out);

}  // namespace rpfs::fs
