// Vault retention: group policy changes and point expiry.
//
// A group promises its points for retention_s; older points expire: they
// leave the catalog (point list, the mount's points/ and latest-* links).
// Expiry only drops the labels. Reclaiming the journal space that nothing
// reachable needs any more is compaction's job (vault_compaction.cc).
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

Status Vault::CheckHorizonLocked(const std::string& group, uint64_t seq) const {
  auto g = groups_.find(group);
  if (g == groups_.end() || seq >= g->second.horizon_seq) return Status::OK();
  return Status::NotFound("seq " + std::to_string(seq) + " is older than group " + group +
                          "'s retention horizon (seq " + std::to_string(g->second.horizon_seq) +
                          "): its history was reclaimed");
}

Status Vault::ExpirePoints(std::vector<Point>* expired) { return ExpirePointsAt(clock_(), expired); }

Status Vault::ExpirePointsAt(uint64_t now, std::vector<Point>* expired) {
  expired->clear();
  std::lock_guard<std::mutex> l(write_mu_);
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
