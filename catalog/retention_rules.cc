#include "catalog/retention_rules.h"

#include <algorithm>

namespace rpfs::catalog {

void RetentionRules::PinChain(const BranchChain& chain) {
  for (const BranchLevel& level : chain) pins_[level.branch].push_back(level.max_seq);
}

void RetentionRules::Finish() {
  for (auto& [branch, seqs] : pins_) {
    std::sort(seqs.begin(), seqs.end());
    seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  }
}

bool RetentionRules::Live(uint32_t disk, uint32_t branch, uint64_t seq, uint64_t newer_seq) const {
  auto w = windows_.find(disk);
  if (w == windows_.end()) return false;  // removed disk
  auto p = pins_.find(branch);
  if (p == pins_.end()) return false;  // a branch nothing keeps
  const uint64_t window_start = w->second;
  if (seq > window_start) return true;
  if (window_start < newer_seq) return true;  // the newest at or below w
  // The first pin at or above seq must be below the next newer version.
  auto it = std::lower_bound(p->second.begin(), p->second.end(), seq);
  return it != p->second.end() && *it < newer_seq;
}

size_t RetentionRules::pins() const {
  size_t n = 0;
  for (const auto& [branch, seqs] : pins_) n += seqs.size();
  return n;
}

}  // namespace rpfs::catalog
