// Vault retention: group policy changes and point expiry.
//
// A group promises its points for retention_s; older points expire: they
// leave the catalog (point list, the mount's points/ and latest-* links).
// Expiry only drops the labels. Reclaiming the journal space that nothing
// reachable needs any more is compaction's job (issue 6, not yet built).
#include <mutex>

#include "catalog/vault.h"

namespace rpfs::catalog {

Status Vault::SetGroupPolicy(const std::string& name, const std::function<Status(Group*)>& edit,
                             Group* out) {
  std::lock_guard<std::mutex> l(write_mu_);
  Group g;
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    auto it = groups_.find(name);
    if (it == groups_.end()) return Status::NotFound("unknown group '" + name + "'");
    g = it->second;
  }
  RPFS_RETURN_IF_ERROR(edit(&g));
  if (g.name != name) return Status::InvalidArgument("a group's name cannot change");
  RPFS_RETURN_IF_ERROR(PutGroupAndBranches(&g, {}));
  if (out) *out = g;
  return Status::OK();
}

Status Vault::ExpirePoints(std::vector<Point>* expired) {
  expired->clear();
  std::lock_guard<std::mutex> l(write_mu_);
  const uint64_t now = clock_();
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    for (const auto& [id, p] : points_) {
      auto g = groups_.find(p.group);
      if (g == groups_.end()) continue;
      const uint64_t window_ns = g->second.retention_s * 1000000000ull;
      if (now > window_ns && p.time_ns < now - window_ns) expired->push_back(p);
    }
  }
  if (expired->empty()) return Status::OK();
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    for (const Point& p : *expired) {
      RPFS_RETURN_IF_ERROR(txn.Del(catalog_->points, BigEndianKey64(p.id)));
    }
    return Status::OK();
  }));
  std::unique_lock<std::shared_mutex> rl(rows_mu_);
  for (const Point& p : *expired) points_.erase(p.id);
  return Status::OK();
}

}  // namespace rpfs::catalog
