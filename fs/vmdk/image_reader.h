// ImageReader: a disk image read as a stream of data runs, for
// `rpfs disk import`. OpenImage() tells the format from the file's first
// bytes: a sparse extent ('KDMV' magic: monolithicSparse, streamOptimized),
// a VMDK descriptor (text whose first key is `version`: monolithicFlat,
// twoGbMaxExtentFlat, twoGbMaxExtentSparse, vmfs, several extents, ZERO
// extents), else a raw image.
//
// The file is hostile. OpenImage validates all metadata before it returns
// (headers, descriptors, every extent's size and file, every grain
// directory and table entry), so a caller can refuse a malformed image
// before it changes anything; only grain data (deflate streams) is checked
// while streaming. Every problem is one line naming the file, the
// structure and the byte offset:
//
//   disk.vmdk: grain table 3 entry 17 at offset 123456 points into metadata
//
// Malformed input is Status::Corruption (binary structures) or
// InvalidArgument (descriptors, missing files, unsupported kinds).
//
// Memory stays bounded whatever the data size: one extent is open at a
// time, runs are at most kMaxRunBytes, and a sparse extent keeps its grain
// directory plus one bit per grain-sized slot of its file (see
// fs/vmdk/grain_space_map.h). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "journal/status.h"

namespace rpfs::fs {

// Nothing bigger is imported: a sanity bound on capacities read from files.
constexpr uint64_t kMaxImageCapacity = uint64_t{64} << 40;  // 64 TiB
constexpr size_t kMaxRunBytes = size_t{4} << 20;
// How far past what they read the readers ask for the image's data to be
// read in the background (ByteSource::Prefetch). An image is rarely in the
// page cache, and reads that skip holes or metadata defeat the kernel's
// sequential readahead: without it each run waited on the disk while the
// import's encoders idled.
constexpr uint64_t kPrefetchBytes = uint64_t{64} << 20;

// Bytes of the disk at [offset, offset + size), valid until the next call.
struct ImageRun {
  uint64_t offset = 0;
  const char* data = nullptr;
  size_t size = 0;
};

class ImageReader {
 public:
  virtual ~ImageReader() = default;

  // The disk's size in bytes.
  virtual uint64_t capacity() const = 0;
  // "raw", "monolithicSparse", "streamOptimized", "twoGbMaxExtentFlat", ...
  virtual std::string format() const = 0;

  // The next run of data, past the end of the previous one, at most
  // kMaxRunBytes. Holes, unallocated and zero grains are skipped (a run may
  // still hold zero bytes). Sets *end and leaves *run alone when none is
  // left.
  virtual Status Next(ImageRun* run, bool* end) = 0;

  // Offers room (n bytes, the caller's, n > 0) for the next Next() only: a
  // reader whose runs are the file's bytes as they are may read its run
  // straight into it (the run's data is then room, at most n bytes),
  // which spares a caller that would copy the run there a copy of every
  // byte. Others ignore it.
  void OfferRoom(char* room, size_t n) {
    room_ = room;
    room_bytes_ = n;
  }

 protected:
  // For Next(): the room offered for this call (nullptr if none) and its
  // size in *n. The offer is used up either way.
  char* TakeRoom(size_t* n) {
    char* room = room_;
    room_ = nullptr;
    *n = room_bytes_;
    return room;
  }

 private:
  char* room_ = nullptr;
  size_t room_bytes_ = 0;
};

// Opens the image at path. `name` is what messages call it (the path as
// the user typed it); extent files are taken relative to path's directory.
Status OpenImage(const std::string& path, const std::string& name,
                 std::unique_ptr<ImageReader>* out);

}  // namespace rpfs::fs
