// Vault retention: group policy changes and point expiry.
//
// A group promises its points for retention_s; older points expire: they
// leave the catalog (point list, the mount's points/ and latest-* links).
// Expiry only drops the labels. Reclaiming the journal space that nothing
// reachable needs any more is compaction's job (vault_compaction.cc).
#include <mutex>

#include "catalog/change_log.h"
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

Status Vault::ChangedBytes(const std::string& group, uint64_t since_seq, uint64_t* bytes) {
  *bytes = 0;
  RPFS_RETURN_IF_ERROR(FlushIndex());
  std::vector<uint32_t> disks, branches;
  for (const Disk& d : ListDisks()) {
    if (d.group == group) disks.push_back(d.id);
  }
  {
    std::shared_lock<std::shared_mutex> l(rows_mu_);
    for (const auto& [id, b] : branches_) branches.push_back(id);
  }
  uint64_t n = 0;
  RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
    for (uint32_t d : disks) {
      for (uint32_t b : branches) {
        RPFS_RETURN_IF_ERROR(ForEachChange(txn, catalog_->changes, d, b, since_seq, kMaxSeq,
                                           [&](const ChangeEntry&) {
                                             ++n;
                                             return Status::OK();
                                           }));
      }
    }
    return Status::OK();
  }));
  *bytes = n * meta_.block_size;
  return Status::OK();
}

Status Vault::CheckHorizonLocked(const std::string& group, uint64_t seq) const {
  auto g = groups_.find(group);
  if (g == groups_.end() || seq >= g->second.horizon_seq) return Status::OK();
  return Status::NotFound("seq " + std::to_string(seq) + " is older than group " + group +
                          "'s retention horizon (seq " + std::to_string(g->second.horizon_seq) +
                          "): its history was reclaimed");
}

Status Vault::ExpirePoints(std::vector<Point>* expired) {
  return ExpirePointsAt(clock_(), 0, expired);
}

Status Vault::SetMaxSize(uint64_t bytes) {
  std::lock_guard<std::mutex> l(write_mu_);
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    VaultMeta m;
    RPFS_RETURN_IF_ERROR(catalog_->LoadMeta(txn, &m));
    m.max_size = bytes;
    return catalog_->PutMeta(txn, m);
  }));
  meta_.max_size = bytes;
  return Status::OK();
}

Status Vault::ExpirePointsAt(uint64_t now, uint64_t cut_ns, std::vector<Point>* expired) {
  expired->clear();
  std::lock_guard<std::mutex> l(write_mu_);
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    for (const auto& [id, p] : points_) {
      auto g = groups_.find(p.group);
      if (g == groups_.end()) continue;
      const uint64_t window_ns = g->second.retention_s * 1000000000ull;
      if ((now > window_ns && p.time_ns < now - window_ns) || p.time_ns < cut_ns) {
        expired->push_back(p);
      }
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
