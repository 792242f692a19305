// A sparse extent's grain directory and the walk over its grain tables
// (fs/vmdk/sparse_extent_format.h). Load() reads the directory and checks each
// entry's table lies in the file; GrainCursor then reads one table at a
// time and yields the allocated grains in disk order, checking each entry
// on its own: inside the file, not before the first grain (overHead), not
// past the capacity. What needs the whole picture (grains into metadata,
// grains overlapping, grain markers) is fs/vmdk/sparse_extent_check.h.
//
// Memory: the directory (4 bytes a table) and one table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/sparse_extent_header.h"

namespace rpfs::fs {

class GrainDirectory {
 public:
  // Reads the primary (redundant = false) or redundant directory of h.
  static Status Load(const ByteSource& src, const SparseHeader& h, bool redundant,
                     std::unique_ptr<GrainDirectory>* out);

  bool redundant() const { return redundant_; }
  uint64_t offset() const { return offset_; }  // bytes
  uint64_t bytes() const { return uint64_t{entries_.size()} * 4; }
  size_t tables() const { return entries_.size(); }
  // The byte offset of table i, 0 if it is not allocated.
  uint64_t table_offset(size_t i) const { return uint64_t{entries_[i]} * 512; }
  // "grain table" or "redundant grain table", for messages.
  std::string TableName(size_t i) const;

 private:
  GrainDirectory() = default;
  bool redundant_ = false;
  uint64_t offset_ = 0;
  std::vector<uint32_t> entries_;
};

// One allocated grain.
struct GrainRef {
  uint64_t index = 0;        // grain number; its disk offset is index * grain_bytes
  uint64_t file_offset = 0;  // the grain's (or its marker's) first byte
  uint64_t bytes = 0;        // disk bytes it holds: a grain, or less at the end
  size_t table = 0, entry = 0;
  uint64_t entry_offset = 0;  // where the GTE sits, for messages
};

class GrainCursor {
 public:
  GrainCursor(const ByteSource& src, const SparseHeader& h, const GrainDirectory& gd);

  // The next allocated grain in disk order (zero grains are skipped);
  // *end when there is none left.
  Status Next(GrainRef* g, bool* end);

  // "grain table 3 entry 17 at offset 123456" for messages; Where()
  // puts the file's name and ": " before it.
  std::string Structure(const GrainRef& g) const;
  std::string Where(const GrainRef& g) const;

 private:
  Status LoadTable(size_t t);

  const ByteSource& src_;
  const SparseHeader& h_;
  const GrainDirectory& gd_;
  size_t table_ = 0;        // the table next to read entries from
  size_t entry_ = 0;
  bool loaded_ = false;
  std::vector<char> gt_;    // table_'s bytes, when allocated
};

}  // namespace rpfs::fs
