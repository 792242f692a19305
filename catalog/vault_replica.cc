// Replication's two ends in the vault. Target side: a replica group and
// its disks, batches of source write calls applied as one unit (see
// journal/record_format.h: kBatch records closed by a kLink record),
// points made at the source's times. Source side: the durable mark a
// sender may ship up to, and the acknowledged state per group.
#include <mutex>

#include "catalog/change_log.h"
#include "catalog/vault.h"
#include "journal/coding.h"

namespace rpfs::catalog {
namespace {

std::string LinkKey(const std::string& source_vault, const std::string& group) {
  return source_vault + "/" + group;
}

}  // namespace

Status Vault::SetUpReplicaGroup(const std::string& source_vault, const Group& policy,
                                const std::vector<Disk>& disks, const uint64_t* reverse_fork_seq) {
  Group g;
  Status s = GetGroup(policy.name, &g);
  if (reverse_fork_seq != nullptr) {
    RPFS_RETURN_IF_ERROR(s);
    if (g.replica_of.empty()) {
      if (g.state != "protected") {
        return Status::InvalidArgument("group " + g.name + " is " + g.state +
                                       " here: it cannot take a failover back");
      }
      RPFS_RETURN_IF_ERROR(SetUpReverseBranch(source_vault, g.name, *reverse_fork_seq));
    } else if (g.replica_of != source_vault) {
      return Status::AlreadyExists("group " + g.name + " here is a replica of vault " + g.replica_of +
                                   ", not of vault " + source_vault);
    }
  } else if (s.IsNotFound()) {
    g = policy;
    g.active_branch = 1;
    g.state = "protected";
    g.horizon_seq = g.horizon_ns = g.latest_bytes = 0;
    g.replica_of = source_vault;
    g.replica_branch = 1;
    RPFS_RETURN_IF_ERROR(CreateGroup(g));
  } else if (!s.ok()) {
    return s;
  } else if (g.replica_of != source_vault) {
    return Status::AlreadyExists(
        "group " + policy.name + " here is " +
        (g.replica_of.empty() ? std::string("a local group") : "a replica of vault " + g.replica_of) +
        ", not a replica of vault " + source_vault);
  } else if (g.retention_s != policy.retention_s || g.rpo_s != policy.rpo_s ||
             g.crash_every_s != policy.crash_every_s || g.app_every_s != policy.app_every_s) {
    RPFS_RETURN_IF_ERROR(SetGroupPolicy(policy.name, [&](Group* row) {
      row->retention_s = policy.retention_s;
      row->rpo_s = policy.rpo_s;
      row->crash_every_s = policy.crash_every_s;
      row->app_every_s = policy.app_every_s;
      return Status::OK();
    }, nullptr));
  }
  for (const Disk& want : disks) {
    Disk have;
    s = FindDisk(want.name, &have);
    if (s.IsNotFound()) {
      if (want.size % block_size() != 0) {
        return Status::InvalidArgument("disk " + want.name + ": its size " +
                                       std::to_string(want.size) +
                                       " is not a multiple of this vault's block size " +
                                       std::to_string(block_size()));
      }
      RPFS_RETURN_IF_ERROR(CreateDisk(want.name, want.size, policy.name, nullptr));
      continue;
    }
    RPFS_RETURN_IF_ERROR(s);
    if (have.group != policy.name || have.size != want.size) {
      return Status::AlreadyExists("disk " + want.name + " here (group " + have.group + ", " +
                                   std::to_string(have.size) + " bytes) does not match the source's (group " +
                                   policy.name + ", " + std::to_string(want.size) + " bytes)");
    }
  }
  return Status::OK();
}

Status Vault::SetUpReverseBranch(const std::string& source_vault, const std::string& group,
                                 uint64_t fork_seq) {
  std::lock_guard<std::mutex> l(write_mu_);
  Group g;
  if (fork_seq > last_seq_) {
    return Status::InvalidArgument("the failover came from seq " + std::to_string(fork_seq) +
                                   " of this vault, which it never reached");
  }
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return Status::NotFound("unknown group '" + group + "'");
    g = it->second;
    RPFS_RETURN_IF_ERROR(CheckHorizonLocked(group, fork_seq));
  }
  Branch b;
  b.id = meta_.next_branch_id;
  b.name = group + "-from-" + source_vault.substr(0, 8) + "-" + std::to_string(b.id);
  b.parent = g.active_branch;
  b.fork_seq = fork_seq;
  b.created_ns = clock_();
  b.group = group;
  b.kind = "failover";
  // The old primary closes, as a failover here would close it.
  g.active_branch = b.id;
  g.state = "reprotected";
  g.replica_of = source_vault;
  g.replica_branch = b.id;
  return PutGroupAndBranches(&g, {b});
}

Status Vault::GetLink(const std::string& source_vault, const std::string& group,
                      ReplicaLink* link) const {
  std::lock_guard<std::mutex> l(write_mu_);
  auto it = links_.find(LinkKey(source_vault, group));
  if (it == links_.end()) {
    return Status::NotFound("nothing of group " + group + " of vault " + source_vault +
                            " is here");
  }
  *link = it->second;
  return Status::OK();
}

std::vector<ReplicaLink> Vault::ListLinks() const {
  std::lock_guard<std::mutex> l(write_mu_);
  std::vector<ReplicaLink> out;
  for (const auto& [key, link] : links_) out.push_back(link);
  return out;
}

Status Vault::ApplyReplicaBatch(const std::vector<ReplicaCall>& calls, const ReplicaLink& after) {
  const uint64_t bs = meta_.block_size;
  uint32_t branch = 0;
  std::lock_guard<std::mutex> l(write_mu_);
  if (!replica_failed_.ok()) {
    return Status::IOError("an earlier replicated batch failed (" + replica_failed_.message() +
                           "): no more until the vault is reopened");
  }
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    auto g = groups_.find(after.group);
    if (g == groups_.end()) return Status::NotFound("unknown group '" + after.group + "'");
    if (g->second.replica_of != after.source_vault) {
      return Status::InvalidArgument("group " + after.group + " is not a replica of vault " +
                                     after.source_vault);
    }
    if (g->second.active_branch != g->second.replica_branch) {
      return Status::ReadOnly("group " + after.group + " is " + g->second.state +
                              " here: replication into it stopped");
    }
    branch = g->second.replica_branch;
    for (const ReplicaCall& c : calls) {
      for (const ReplicaBlock& b : c.blocks) {
        auto d = disks_.find(b.disk);
        if (d == disks_.end() || d->second.group != after.group) {
          return Status::InvalidArgument("disk id " + std::to_string(b.disk) + " is not in group " +
                                         after.group);
        }
        if (b.block >= d->second.size / bs) {
          return Status::InvalidArgument("block " + std::to_string(b.block) + " is past the end of disk " +
                                         d->second.name);
        }
      }
    }
  }
  Status result;
  uint64_t seq = last_seq_;
  for (const ReplicaCall& c : calls) {
    if (c.blocks.empty()) continue;
    seq = last_seq_ + 1;
    // Record times never go backwards; the source's are kept when they can be.
    last_time_ns_ = std::max(last_time_ns_, c.time_ns);
    const uint64_t now = last_time_ns_;
    for (size_t i = 0; i < c.blocks.size() && result.ok(); ++i) {
      const ReplicaBlock& b = c.blocks[i];
      journal::RecordHeader h;
      h.type = journal::RecordType::kWrite;
      h.flags = static_cast<uint8_t>(b.flags | journal::kBatch |
                                     (i + 1 < c.blocks.size() ? journal::kContinued : 0));
      h.payload_len = static_cast<uint32_t>(b.payload.size());
      h.length = static_cast<uint32_t>(bs);
      h.seq = seq;
      h.time_ns = now;
      h.disk = b.disk;
      h.branch = branch;
      h.offset = b.block * bs;
      journal::RecordLocation loc;
      result = journal_->Append(h, b.payload.data(), &loc);
      if (result.ok()) {
        catalog_->blocks().Add(BlockKey{b.disk, branch, b.block, seq},
                               BlockVersion{seq, loc, h.flags});
      }
    }
    last_seq_ = seq;
    NoteTimeLocked(now, seq);
    if (!result.ok()) break;
  }
  ReplicaLink link = after;
  link.updated_ns = clock_();
  link.applied_local_seq = last_seq_;
  if (result.ok()) {
    const std::string payload = nlohmann::json(link).dump();
    journal::RecordHeader h;
    h.type = journal::RecordType::kLink;
    h.payload_len = static_cast<uint32_t>(payload.size());
    h.length = h.payload_len;
    h.seq = last_seq_;
    h.time_ns = last_time_ns_;
    journal::RecordLocation loc;
    result = journal_->Append(h, payload.data(), &loc);
  }
  if (result.ok()) result = journal_->Sync();
  if (!result.ok()) {
    // The index may now name records of a batch that has no kLink: the
    // next open leaves them out, and this vault must not go on as if
    // nothing happened. Refuse every further batch until then.
    replica_failed_ = result;
    return Status::IOError("replicated batch up to source seq " + std::to_string(after.applied_seq) +
                           " not applied: " + result.message());
  }
  links_[LinkKey(link.source_vault, link.group)] = link;
  return NoteIndexGrowthLocked();
}

Status Vault::AddReplicaPoint(const Point& source, Point* out) {
  Point p;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    auto g = groups_.find(source.group);
    if (g == groups_.end()) return Status::NotFound("unknown group '" + source.group + "'");
    for (const auto* list : {&pending_points_}) {
      for (const Point& q : *list) {
        if (q.group == source.group && q.source_point == source.id) {
          if (out) *out = q;
          return Status::OK();
        }
      }
    }
    for (const auto& [id, q] : points_) {
      if (q.group == source.group && q.source_point == source.id) {
        if (out) *out = q;
        return Status::OK();
      }
    }
    p.group = source.group;
    p.kind = source.kind;
    p.label = source.label;
    p.branch = g->second.active_branch;
    p.time_ns = source.time_ns;
    p.hold_ns = source.hold_ns;
    p.source_point = source.id;
    p.source_seq = source.seq;
    rl.unlock();
    RPFS_RETURN_IF_ERROR(AppendPointLocked(&p));
    pending_points_.push_back(p);
  }
  RPFS_RETURN_IF_ERROR(FlushIndex());
  if (out) *out = p;
  return Status::OK();
}

uint64_t Vault::NewestSourcePoint(const std::string& group) const {
  uint64_t newest = 0;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    for (const Point& q : pending_points_) {
      if (q.group == group) newest = std::max(newest, q.source_point);
    }
  }
  std::shared_lock<std::shared_mutex> rl(rows_mu_);
  for (const auto& [id, q] : points_) {
    if (q.group == group) newest = std::max(newest, q.source_point);
  }
  return newest;
}

Status Vault::IndexLinkRecord(const journal::RecordHeader& h, const std::string& payload,
                              const journal::RecordLocation& loc) {
  ReplicaLink link;
  Status s = Catalog::Parse(payload, &link);
  if (!s.ok()) {
    return Status::Corruption("segment " + journal::SegmentFileName(loc.segment) + " offset " +
                              std::to_string(loc.offset) + ": link record: " + s.message());
  }
  (void)h;
  for (const auto& [k, ver] : replay_batch_) catalog_->blocks().Add(k, ver);
  replay_batch_.clear();
  links_[LinkKey(link.source_vault, link.group)] = link;
  return Status::OK();
}

Status Vault::DurableMark(uint64_t* seq, journal::JournalPos* pos) {
  {
    std::lock_guard<std::mutex> l(write_mu_);
    *seq = last_seq_;
    *pos = journal_->end();
  }
  return journal_->Sync();
}

Status Vault::GetReplication(const std::string& group, Replication* row) const {
  return catalog_->env().View(
      [&](Txn& txn) { return catalog_->GetRow(txn, catalog_->replications, group, row); });
}

std::vector<Replication> Vault::ListReplications() const {
  std::vector<Replication> rows;
  (void)catalog_->ListRows(catalog_->replications, &rows);
  return rows;
}

Status Vault::PutReplication(const Replication& row) {
  // Its follow position only moves forward, pinning less: a compaction
  // pass planned before it rewrites nothing it now needs.
  return PutRowDurably(
      [&](Txn& txn) { return catalog_->PutRow(txn, catalog_->replications, row.group, row); });
}

Status Vault::GetReplicationLag(const std::string& group, ReplicationLag* lag) {
  *lag = ReplicationLag();
  RPFS_RETURN_IF_ERROR(GetReplication(group, &lag->row));
  Group g;
  RPFS_RETURN_IF_ERROR(GetGroup(group, &g));
  std::vector<uint32_t> disks;
  for (const Disk& d : ListDisks()) {
    if (d.group == group) disks.push_back(d.id);
  }
  RPFS_RETURN_IF_ERROR(FlushIndex());  // the change log holds what was flushed
  const uint64_t acked = lag->row.acked_seq;
  uint64_t first = kMaxSeq, blocks = 0;
  RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
    for (uint32_t d : disks) {
      RPFS_RETURN_IF_ERROR(ForEachChange(txn, catalog_->changes, d, g.active_branch, acked, kMaxSeq,
                                         [&](const ChangeEntry& e) {
                                           ++blocks;
                                           first = std::min(first, e.seq);
                                           return Status::OK();
                                         }));
    }
    if (blocks == 0) return Status::OK();
    // When `first` was written: the last timeline instant starting at or
    // before it (instants are in time order, and so are their seqs).
    Cursor c(txn, catalog_->timeline);
    RPFS_RETURN_IF_ERROR(c.SeekAtLeast(BigEndianKey64(lag->row.acked_time_ns / 1000000)));
    uint64_t since_ms = lag->row.acked_time_ns / 1000000;
    while (c.valid() && c.key().size() == 8 && c.value().size() == 8) {
      const uint64_t ms = GetBE64(reinterpret_cast<const uint8_t*>(c.key().data()));
      const uint64_t s = GetBE64(reinterpret_cast<const uint8_t*>(c.value().data()));
      if (s > first) break;
      since_ms = ms;
      RPFS_RETURN_IF_ERROR(c.Next());
    }
    lag->behind_since_ns = since_ms * 1000000;
    return Status::OK();
  }));
  lag->bytes_behind = blocks * block_size();
  const uint64_t now = clock_();
  lag->lag_ns = blocks > 0 && now > lag->behind_since_ns ? now - lag->behind_since_ns : 0;
  return Status::OK();
}

}  // namespace rpfs::catalog
