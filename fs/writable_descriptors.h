// WritableDescriptors: the DISK.vmdk text of the files that take writes
// (disks/ and branches/). A hypervisor opens the descriptor read-write and
// rewrites its CID line (DESIGN.md §2), so each (disk, branch) keeps the
// text it was last given while mounted, starting from the generated one.
// disks/ is branch 0: its text stays with the path when failover moves the
// active branch underneath. Thread-safe; texts are at most kMaxBytes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "catalog/rows.h"

namespace rpfs::fs {

// The monolithicFlat descriptor of a disk, as every tree shows it at first.
std::string GeneratedDescriptor(const catalog::Disk& disk);

class WritableDescriptors {
 public:
  static constexpr uint64_t kMaxBytes = 1 << 20;

  std::string Text(const catalog::Disk& disk, uint32_t branch) const;
  // Writes n bytes at off (zero-filling a gap); EFBIG past kMaxBytes.
  int Write(const catalog::Disk& disk, uint32_t branch, uint64_t off, const char* data, size_t n);
  void Truncate(const catalog::Disk& disk, uint32_t branch, uint64_t size);
  // A rewrite must keep the extent line and size. If it did not, the
  // generated text comes back and EINVAL tells the writer; else 0.
  int RevertIfBroken(const catalog::Disk& disk, uint32_t branch);

 private:
  using Key = std::pair<uint32_t, uint32_t>;  // (disk, branch)
  std::string& TextLocked(const catalog::Disk& disk, uint32_t branch);

  mutable std::mutex mu_;
  std::map<Key, std::string> edited_;
};

}  // namespace rpfs::fs
