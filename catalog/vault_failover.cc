// Failover states of a group (DESIGN.md §1): test branches, failover,
// re-protect, the end of a failback; which branch a disk may write; and
// the changed-block sets failback and diff are built on.
#include <algorithm>
#include <cctype>

#include "catalog/vault.h"

namespace rpfs::catalog {
namespace {

bool GoodBranchName(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

std::vector<Branch> Vault::ListBranches() const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  std::vector<Branch> out;
  for (auto& [id, b] : branches_) {
    if (b.deleted_ns == 0) out.push_back(b);
  }
  return out;
}

Status Vault::FindBranch(const std::string& name, Branch* branch) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  for (auto& [id, b] : branches_) {
    if (b.deleted_ns == 0 && b.name == name) {
      *branch = b;
      return Status::OK();
    }
  }
  return Status::NotFound("unknown branch '" + name + "'");
}

Status Vault::WritableLocked(const Disk& disk, uint32_t branch) const {
  auto b = branches_.find(branch);
  if (b == branches_.end() || b->second.deleted_ns != 0) {
    return Status::NotFound("unknown branch " + std::to_string(branch));
  }
  const Branch& br = b->second;
  auto g = groups_.find(disk.group);
  const uint32_t active = g == groups_.end() ? 1 : g->second.active_branch;
  if (br.read_only) return Status::ReadOnly("branch " + br.name + " is read-only");
  if (br.id == active && g != groups_.end() && !g->second.replica_of.empty() &&
      g->second.replica_branch == br.id) {
    return Status::ReadOnly("disk " + disk.name + " is a replica of vault " +
                            g->second.replica_of +
                            ": only replication writes to it (test failover gives a writable clone)");
  }
  if (br.id == active) return Status::OK();
  if (br.kind == "test" && br.group == disk.group) return Status::OK();
  if (!br.group.empty() && br.group != disk.group) {
    return Status::NotFound("disk " + disk.name + " is not on branch " + br.name + " (group " +
                            br.group + ")");
  }
  return Status::ReadOnly("disk " + disk.name + " on branch " + br.name +
                          " is closed to writes: group " + disk.group + " writes to its " +
                          (g == groups_.end() ? "primary" : g->second.state) + " branch " +
                          std::to_string(active));
}

Status Vault::CheckWritable(uint32_t disk, uint32_t branch) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto d = disks_.find(disk);
  if (d == disks_.end()) return Status::NotFound("unknown disk id " + std::to_string(disk));
  return WritableLocked(d->second, branch);
}

// Writes the rows (and the meta, for a new branch id) in one durable
// transaction, then updates the caches. write_mu_ held.
Status Vault::PutGroupAndBranches(const Group* group, const std::vector<Branch>& branches) {
  ++pin_generation_;  // a new branch or policy may pin what a compaction pass saw as garbage
  VaultMeta m = meta_;
  for (const Branch& b : branches) m.next_branch_id = std::max(m.next_branch_id, b.id + 1);
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    if (group) RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->groups, group->name, *group));
    for (const Branch& b : branches) {
      RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->branches, BigEndianKey32(b.id), b));
    }
    return catalog_->PutMeta(txn, m);
  }));
  meta_ = m;
  std::unique_lock<std::shared_mutex> rl(rows_mu_);
  if (group) groups_[group->name] = *group;
  for (const Branch& b : branches) branches_[b.id] = b;
  return Status::OK();
}

Status Vault::Failover(const std::string& group, View from, const std::string& name, bool test,
                       Branch* branch) {
  std::lock_guard<std::mutex> l(write_mu_);
  Group g;
  Branch b;
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    auto git = groups_.find(group);
    if (git == groups_.end()) return Status::NotFound("unknown group '" + group + "'");
    g = git->second;
    if (!test && g.state != "protected") {
      return Status::InvalidArgument("group " + group + " is " + g.state +
                                     ": fail back before failing over again");
    }
    if (!branches_.count(from.branch)) {
      return Status::NotFound("unknown branch " + std::to_string(from.branch));
    }
    b.id = meta_.next_branch_id;
    b.name = name.empty() ? group + (test ? "-test-" : "-failover-") + std::to_string(b.id) : name;
    if (!GoodBranchName(b.name)) {
      return Status::InvalidArgument("bad branch name '" + b.name +
                                     "': letters, digits, '.', '_', '-'");
    }
    for (auto& [id, other] : branches_) {
      if (other.deleted_ns == 0 && other.name == b.name) {
        return Status::AlreadyExists("branch " + b.name + " exists");
      }
    }
  }
  b.parent = from.branch;
  b.fork_seq = std::min(from.seq, last_seq_);  // "latest" means what is written now
  b.created_ns = clock_();
  b.group = group;
  b.kind = test ? "test" : "failover";
  if (!test && !g.replica_of.empty()) {
    // Which seq of the replica's source vault the fork stands for, so that
    // replicating the branch back (after reprotect) starts from there: a
    // replicated point's, or, at or after the last applied batch, the
    // link's. Anything else cannot be mapped (0).
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    for (const auto& [id, p] : points_) {
      if (p.group == group && p.seq == b.fork_seq && p.source_point != 0) b.source_seq = p.source_seq;
    }
    auto link = links_.find(g.replica_of + "/" + group);
    if (b.source_seq == 0 && link != links_.end() && b.fork_seq >= link->second.applied_local_seq &&
        link->second.step_to == 0) {
      b.source_seq = link->second.applied_seq;
    }
  }
  if (test) {
    RPFS_RETURN_IF_ERROR(PutGroupAndBranches(nullptr, {b}));
  } else {
    g.active_branch = b.id;
    g.state = "failed-over";
    RPFS_RETURN_IF_ERROR(PutGroupAndBranches(&g, {b}));
  }
  if (branch) *branch = b;
  return Status::OK();
}

Status Vault::CleanupBranch(const std::string& name, Branch* branch) {
  std::lock_guard<std::mutex> l(write_mu_);
  Branch b;
  RPFS_RETURN_IF_ERROR(FindBranch(name, &b));
  if (b.kind != "test") {
    return Status::InvalidArgument("branch " + name + " is a " + b.kind +
                                   " branch; cleanup removes test failover branches only");
  }
  b.deleted_ns = clock_();
  RPFS_RETURN_IF_ERROR(PutGroupAndBranches(nullptr, {b}));
  if (branch) *branch = b;
  return Status::OK();
}

Status Vault::Reprotect(const std::string& group) {
  std::lock_guard<std::mutex> l(write_mu_);
  Group g;
  RPFS_RETURN_IF_ERROR(GetGroup(group, &g));
  if (g.state != "failed-over") {
    return Status::InvalidArgument("group " + group + " is " + g.state +
                                   ": reprotect follows a failover");
  }
  g.state = "reprotected";
  return PutGroupAndBranches(&g, {});
}

Status Vault::FinishFailback(const std::string& group, uint64_t seq, Branch* new_primary) {
  std::lock_guard<std::mutex> l(write_mu_);
  Group g;
  RPFS_RETURN_IF_ERROR(GetGroup(group, &g));
  if (g.state != "reprotected") {
    return Status::InvalidArgument("group " + group + " is " + g.state +
                                   ": failback follows failover and reprotect");
  }
  Branch b;
  b.id = meta_.next_branch_id;
  b.name = group + "-primary-" + std::to_string(b.id);
  b.parent = g.active_branch;
  b.fork_seq = std::min(seq, last_seq_);
  b.created_ns = clock_();
  b.group = group;
  b.kind = "primary";
  if (!g.replica_of.empty() && g.replica_branch == g.active_branch) {
    // The failover came back by replication and is now home: this vault
    // is the primary again, no longer anyone's replica.
    g.replica_of.clear();
    g.replica_branch = 0;
  }
  g.active_branch = b.id;
  g.state = "protected";
  RPFS_RETURN_IF_ERROR(PutGroupAndBranches(&g, {b}));
  if (new_primary) *new_primary = b;
  return Status::OK();
}

Status Vault::DiffBlocks(uint32_t disk, View a, View b, std::vector<uint64_t>* blocks) {
  blocks->clear();
  const BranchChain ca = ChainFor(a), cb = ChainFor(b);
  // The first level of `ca` whose branch is also in `cb` is where the two
  // histories meet; below it they are the same.
  struct Range {
    uint32_t branch;
    uint64_t lo, hi;  // versions with lo < seq <= hi
  };
  std::vector<Range> ranges;
  size_t meet_a = ca.size(), meet_b = cb.size();
  for (size_t i = 0; i < ca.size() && meet_a == ca.size(); ++i) {
    for (size_t j = 0; j < cb.size(); ++j) {
      if (ca[i].branch == cb[j].branch) {
        meet_a = i;
        meet_b = j;
        break;
      }
    }
  }
  for (size_t i = 0; i < meet_a; ++i) ranges.push_back({ca[i].branch, 0, ca[i].max_seq});
  for (size_t j = 0; j < meet_b; ++j) ranges.push_back({cb[j].branch, 0, cb[j].max_seq});
  if (meet_a < ca.size()) {
    const uint64_t sa = ca[meet_a].max_seq, sb = cb[meet_b].max_seq;
    ranges.push_back({ca[meet_a].branch, std::min(sa, sb), std::max(sa, sb)});
  }
  std::vector<uint64_t> candidates, some;
  for (const Range& r : ranges) {
    RPFS_RETURN_IF_ERROR(catalog_->blocks().ChangedBlocks(disk, r.branch, r.lo, r.hi, &some));
    candidates.insert(candidates.end(), some.begin(), some.end());
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  // Confirm: the same version (or zero on both sides) is no difference.
  return catalog_->blocks().Read([&](BlockMap::Reader& r) {
    for (uint64_t block : candidates) {
      FoundBlock fa, fb;
      RPFS_RETURN_IF_ERROR(r.Find(disk, ca, block, &fa));
      RPFS_RETURN_IF_ERROR(r.Find(disk, cb, block, &fb));
      const bool za = !fa.found || (fa.version.flags & journal::kZero);
      const bool zb = !fb.found || (fb.version.flags & journal::kZero);
      if (za && zb) continue;
      if (!za && !zb && fa.branch == fb.branch && fa.version.seq == fb.version.seq) continue;
      blocks->push_back(block);
    }
    return Status::OK();
  });
}

}  // namespace rpfs::catalog
