// GrainSpaceMap: which bytes of a sparse extent file are taken, so a
// grain table entry that points into metadata (header, descriptor,
// directories, tables, markers, footer) or onto another grain is refused.
//
// Metadata is a sorted list of merged byte ranges (tables laid out one
// after another merge into one range). Uncompressed grains are all
// grain_bytes long, so one bit per grain-sized slot of the file tells
// overlaps apart exactly for grains that start on a slot boundary (every
// writer we know allocates grains so); the rare grain that does not is
// remembered and checked against slots and against the others in Finish().
//
// Memory: 1 bit per grain-sized slot of the file (8 KiB for a 32 GiB file
// of 64 KiB grains), 16 bytes per metadata range, some 64 bytes per
// unaligned grain; refused past kMaxSlots and kMaxUnaligned. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "journal/status.h"

namespace rpfs::fs {

class GrainSpaceMap {
 public:
  static constexpr uint64_t kMaxSlots = uint64_t{1} << 30;  // 128 MiB of bits
  static constexpr size_t kMaxUnaligned = size_t{1} << 20;

  GrainSpaceMap(uint64_t file_size, uint64_t grain_bytes)
      : file_size_(file_size), grain_bytes_(grain_bytes) {}

  // Adds metadata [offset, offset + bytes); call before Seal().
  void AddMetadata(uint64_t offset, uint64_t bytes);
  void Seal();
  bool IntersectsMetadata(uint64_t offset, uint64_t bytes) const;

  // Claims a grain_bytes grain at offset (which lies in the file). Sets
  // *overlaps if an aligned grain claimed before shares its slot. `tag`
  // names the grain (called only for messages and unaligned grains).
  // InvalidArgument past the memory bounds.
  Status ClaimGrain(uint64_t offset, const std::function<std::string()>& tag, bool* overlaps);
  // Checks the unaligned grains; on an overlap returns false with the tag
  // of one of the two grains in *tag.
  bool Finish(std::string* tag, uint64_t* offset);

 private:
  bool SlotTaken(uint64_t slot) const;

  uint64_t file_size_, grain_bytes_;
  std::vector<std::pair<uint64_t, uint64_t>> metadata_;  // [begin, end), sorted once sealed
  std::vector<uint64_t> slots_;                          // bits
  struct Unaligned {
    uint64_t offset;
    std::string tag;
  };
  std::vector<Unaligned> unaligned_;
};

}  // namespace rpfs::fs
