// SparseVmdkPatcher: a monolithicSparse VMDK as a FailbackTarget, updated
// in place (contract and crash-safety order: tools/dr/failback_target.h).
//
// Open() reads the header, the embedded descriptor and both grain
// directories through fs/ and runs fs/vmdk/sparse_extent_check.h on the primary
// directory; it refuses compressed (streamOptimized) files, child disks,
// files without an embedded descriptor (a piece of a split disk), and files
// whose grain tables are not all allocated or not all inside the metadata
// area before the first grain (overHead) apart from each other, header and
// descriptor: table entries are the only metadata we write, so this is
// what keeps a hostile layout from making us write over data.
//
// New grains go at the end of the file, aligned to the grain size (which
// keeps fs/vmdk/grain_space_map.h's fast path for a later import). Grain tables
// are read lazily into a cache; entries of new grains are kept in memory
// and written, both copies, adjacent entries in one write, by Sync().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/vmdk/grain_directory.h"
#include "fs/vmdk/sparse_extent_header.h"
#include "tools/dr/failback_target.h"
#include "tools/dr/target_file.h"

namespace rpfs::tools {

// Opens `file`, whose first bytes are the KDMV magic, as a sparse target.
Status OpenSparseTarget(std::unique_ptr<TargetFile> file, std::unique_ptr<FailbackTarget>* out);

class SparseVmdkPatcher : public FailbackTarget {
 public:
  // Tables cached (512 entries, 2 KiB each) and new entries held before
  // a flush.
  static constexpr size_t kMaxCachedTables = 4096;
  static constexpr size_t kMaxPendingEntries = 16384;

  static Status Open(std::unique_ptr<TargetFile> file, std::unique_ptr<SparseVmdkPatcher>* out);
  ~SparseVmdkPatcher() override;

  uint64_t size() const override { return h_.capacity; }
  std::string format() const override { return "vmdk-sparse"; }
  Status Read(uint64_t offset, size_t n, char* out) override;
  Status Write(uint64_t offset, const char* data, size_t n) override;
  Status Sync() override;
  uint64_t data_bytes_written() const override { return data_bytes_; }
  uint64_t metadata_bytes_written() const override { return metadata_bytes_; }

  uint64_t grain_bytes() const { return h_.grain_bytes; }

 private:
  explicit SparseVmdkPatcher(std::unique_ptr<TargetFile> file) : file_(std::move(file)) {}

  // Table t of the primary directory, decoded (cached).
  Status Table(size_t t, std::vector<uint32_t>** out);
  // Where grain g's data starts in the file; 0 when unallocated or zeroed.
  Status GrainOffset(uint64_t g, uint64_t* at);
  // A new grain for g at the end of the file, its entry pending.
  Status AllocateGrain(uint64_t g, uint64_t* at);
  // Writes the pending entries to the tables on disk, in the safe order.
  Status FlushEntries();
  Status WriteEntries(const fs::GrainDirectory& gd);

  std::unique_ptr<TargetFile> file_;
  fs::SparseHeader h_;
  std::unique_ptr<fs::GrainDirectory> gd_, rgd_;  // rgd_: null when the file has none
  std::unordered_map<size_t, std::vector<uint32_t>> tables_;
  std::map<uint64_t, uint32_t> pending_;  // grain -> sector, not yet in the file's tables
  uint64_t data_bytes_ = 0, metadata_bytes_ = 0;
};

}  // namespace rpfs::tools
