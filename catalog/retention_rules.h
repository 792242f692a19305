// RetentionRules: which block versions a view the vault still promises
// can read; every other version is garbage (catalog/vault_compaction.cc).
//
// A view (branch, seq) reads, per block, the newest version with seq <= s
// on each level of its branch chain. What stays readable:
//   - every instant of a group's window: views with seq >= the window's
//     first seq w, on every branch of the group, so every version above w
//     and the newest at or below w;
//   - every point, every live branch's newest state, every fork a live
//     branch was made from, every unfinished failback's view: a pin
//     (branch, seq) per level of the view's chain.
// So a version v of (disk, branch, block) whose next newer version has seq
// n (kMaxSeq if none) is live iff v.seq > w(disk), or w(disk) or a pin p of
// the branch has v.seq <= p < n. Removed disks and branches no one keeps
// (cleaned-up tests with no live branch forked from them) keep nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "catalog/block_map.h"

namespace rpfs::catalog {

class RetentionRules {
 public:
  // The disk is kept, with every version above window_start.
  void KeepDisk(uint32_t disk, uint64_t window_start) { windows_[disk] = window_start; }
  // Pins every level of chain (and keeps its branches).
  void PinChain(const BranchChain& chain);
  // Call once after the last Keep/Pin, before Live.
  void Finish();

  bool Live(uint32_t disk, uint32_t branch, uint64_t seq, uint64_t newer_seq) const;

  size_t pins() const;

 private:
  std::map<uint32_t, uint64_t> windows_;              // disk -> window start
  std::map<uint32_t, std::vector<uint64_t>> pins_;    // branch -> sorted pin seqs
};

// A compaction pass's rules, and per group where its kept history starts.
struct RetentionPlan {
  RetentionRules rules;
  std::map<std::string, uint64_t> window_start;  // group -> first seq kept whole
  std::map<std::string, uint64_t> window_ns;     // group -> the instant it stands for
};

}  // namespace rpfs::catalog
