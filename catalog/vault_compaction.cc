// Compaction: reclaims the journal space that no promised view needs.
//
// A pass: (1) expire points and note the pin generation; (2) build the
// retention rules (catalog/retention_rules.h) and flush the index, so
// every sealed segment before the indexed position is in LMDB; (3) walk
// the block map once to sum live bytes per segment and collect garbage
// entries, pick the sealed segments at most max_live_fraction live, and
// walk again for their live versions; (4) copy those records to the
// journal's end (flag kCopy, same seq) in batches under the write lock,
// then sync; (5) in one durable LMDB transaction under the write lock:
// point the moved versions at their copies, drop the picked segments'
// garbage entries, list them as retired, move each group's horizon to its
// window start; (6) delete the retired segment files once no reader holds
// a location (HoldSegments), then drop the other garbage entries in small
// batches. Near the size cap (VaultMeta::max_size), (2) bisects for the
// earliest cut instant that lets what is kept fit, oldest history first.
// On a full disk the flush in (2) cannot happen: segments with nothing
// live before the last indexed position still go, copying nothing.
//
// Crash safety: before (5) commits nothing refers to the copies; a replay
// that meets them indexes the same versions at equal bytes. After (5)
// the old segments are listed as retired, and Open deletes any still
// there. Segments are picked only before the indexed position, so replay
// never visits them.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "catalog/job_log.h"
#include "catalog/retention_rules.h"
#include "catalog/time_format.h"
#include "catalog/vault.h"

namespace rpfs::catalog {
namespace {

using Entry = KeyedVersion;

bool LocBefore(const Entry& a, const Entry& b) {
  return std::tie(a.version.loc.segment, a.version.loc.offset) <
         std::tie(b.version.loc.segment, b.version.loc.offset);
}

// Walks every version in the block map in key order (each block's newest
// first), with the seq of the next newer version of the same block.
Status WalkVersions(Txn& txn, MDB_dbi dbi,
                    const std::function<void(const BlockKey&, const BlockVersion&, uint64_t newer)>& fn) {
  Cursor c(txn, dbi);
  RPFS_RETURN_IF_ERROR(c.First());
  BlockKey prev;
  bool have_prev = false;
  while (c.valid()) {
    BlockKey k;
    BlockVersion v;
    if (!DecodeBlockKey(c.key(), &k) || !DecodeBlockValue(c.value(), k.seq, &v)) {
      return Status::Corruption("catalog: malformed block map entry");
    }
    const uint64_t newer = have_prev && prev.SameBlock(k) ? prev.seq : kMaxSeq;
    fn(k, v, newer);
    prev = k;
    have_prev = true;
    RPFS_RETURN_IF_ERROR(c.Next());
  }
  return Status::OK();
}

}  // namespace

Status Vault::Compact(const CompactOptions& o, CompactReport* r) {
  *r = CompactReport();
  std::lock_guard<std::mutex> pass(compact_mu_);
  const uint64_t now = clock_();
  RPFS_RETURN_IF_ERROR(ExpirePointsAt(now, 0, &r->expired));

  // Segments a previous pass retired but could not delete yet.
  std::vector<uint32_t> retired;
  RPFS_RETURN_IF_ERROR(catalog_->ListRetired(&retired));
  {
    std::vector<uint32_t> present = journal_->Segments(), leftover;
    for (uint32_t seg : retired) {
      if (std::binary_search(present.begin(), present.end(), seg)) leftover.push_back(seg);
    }
    if (!leftover.empty()) RPFS_RETURN_IF_ERROR(RetireSegments(leftover, &r->reclaimed_bytes));
  }

  uint64_t generation, cap;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    generation = pin_generation_;
    cap = meta_.max_size;
  }
  RetentionPlan plan;
  RPFS_RETURN_IF_ERROR(PlanRetention(now, 0, &plan));
  journal::JournalPos indexed;
  bool disk_full = false;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    Status flushed = FlushIndexLocked();
    if (flushed.IsNoSpace()) {
      // A full disk: the journal's buffer cannot go out, but everything
      // before the last indexed position is in LMDB, and segments with
      // nothing live there can go without copying a byte: that is how
      // space comes back.
      disk_full = true;
      r->stopped = "disk full (" + flushed.message() + "): only segments with nothing live go";
    } else {
      RPFS_RETURN_IF_ERROR(flushed);
    }
    indexed = meta_.indexed_pos;
  }
  // A disk nearly full: copies would only run into it (a write that hit
  // ENOSPC leaves nothing behind in the journal, so the flush above goes
  // through). The same way out: segments with nothing live.
  const uint64_t copy_room = CopyRoom();
  if (!disk_full && copy_room == 0) {
    disk_full = true;
    r->stopped = "disk full (less than two segments free): only segments with nothing live go";
  }

  std::map<uint32_t, uint64_t> seg_bytes;
  uint64_t vault_bytes = 0;
  for (uint32_t seg : journal_->Segments()) {
    struct stat st;
    if (::stat(journal_->SegmentPath(seg).c_str(), &st) == 0) {
      seg_bytes[seg] = static_cast<uint64_t>(st.st_size);
      vault_bytes += static_cast<uint64_t>(st.st_size);
    }
  }
  const uint64_t catalog_bytes = CatalogFileBytes();
  vault_bytes += catalog_bytes;

  // Near the cap: keep less history, the oldest going first, until what
  // stays fits in 80% of it (the smallest cut that does, by bisection).
  double max_live = o.max_live_fraction;
  if (cap > 0 && vault_bytes > cap / 10 * 9) {
    const uint64_t target = cap / 10 * 8;
    auto fits = [&](uint64_t cut, bool* ok) -> Status {
      RetentionPlan p;
      RPFS_RETURN_IF_ERROR(PlanRetention(now, cut, &p));
      uint64_t live = 0;
      RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
        return WalkVersions(txn, catalog_->blocks_db,
                            [&](const BlockKey& k, const BlockVersion& v, uint64_t newer) {
                              if (!(v.flags & journal::kZero) &&
                                  p.rules.Live(k.disk, k.branch, k.seq, newer)) {
                                live += v.loc.size;
                              }
                            });
      }));
      *ok = live + catalog_bytes <= target;
      return Status::OK();
    };
    bool ok = false;
    RPFS_RETURN_IF_ERROR(fits(0, &ok));
    if (!ok) {
      uint64_t lo = now, hi = now;  // lo: the oldest window start; hi: a cut that fits or now
      for (const auto& [g, t] : plan.window_ns) lo = std::min(lo, t);
      for (int i = 0; i < 16 && hi - lo > 1000000000ull; ++i) {
        const uint64_t mid = lo + (hi - lo) / 2;
        RPFS_RETURN_IF_ERROR(fits(mid, &ok));
        (ok ? hi : lo) = mid;
      }
      r->cap_cut_ns = hi;
      std::vector<Point> more;
      RPFS_RETURN_IF_ERROR(ExpirePointsAt(now, hi, &more));
      r->expired.insert(r->expired.end(), more.begin(), more.end());
      RPFS_RETURN_IF_ERROR(PlanRetention(now, hi, &plan));
      for (const Group& g : ListGroups()) {
        const uint64_t promised = g.retention_s * 1000000000ull;
        const uint64_t kept = now - std::min(now, plan.window_ns[g.name]);
        if (kept < promised) {
          r->shrunk += (r->shrunk.empty() ? "" : ", ") + g.name + " keeps " +
                       std::to_string(kept / 1000000000ull) + " s of its " +
                       std::to_string(g.retention_s) + " s window";
        }
      }
    }
    max_live = std::max(max_live, 0.9);  // and reclaim harder
  }

  // Which segments to rewrite, and what moves and goes.
  std::map<uint32_t, uint64_t> seg_live, seg_entries;
  std::map<std::string, uint64_t> latest_bytes;  // group -> newest versions' bytes
  std::map<uint32_t, std::string> disk_group;
  for (const Disk& d : ListDisks()) disk_group[d.id] = d.group;
  const RetentionRules& rules = plan.rules;
  std::vector<Entry> garbage, moves;
  std::vector<uint32_t> victims;
  RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(WalkVersions(
        txn, catalog_->blocks_db, [&](const BlockKey& k, const BlockVersion& v, uint64_t newer) {
          if (!(v.flags & journal::kZero)) ++seg_entries[v.loc.segment];
          if (rules.Live(k.disk, k.branch, k.seq, newer)) {
            if (!(v.flags & journal::kZero)) {
              seg_live[v.loc.segment] += v.loc.size;
              if (newer == kMaxSeq) latest_bytes[disk_group[k.disk]] += v.loc.size;
            }
          } else if (garbage.size() < o.max_dropped_versions) {
            garbage.push_back(Entry{k, v});
          } else {
            r->stopped = "more garbage index entries than one pass drops";
          }
        }));
    // Replication reads the journal in order from its follow position:
    // segments from there on stay as they are, unless the size cap bites
    // (the follower then catches up from the block map instead).
    uint32_t follow_pin = UINT32_MAX;
    if (r->cap_cut_ns == 0) {
      for (const Replication& row : ListReplications()) {
        for (uint32_t seg : {row.follow_segment, row.catchup_segment}) {
          if (seg != 0) follow_pin = std::min(follow_pin, seg);
        }
      }
    }
    // Sealed, fully indexed segments, the emptiest first.
    std::vector<std::pair<double, uint32_t>> candidates;
    for (auto [seg, bytes] : seg_bytes) {
      const uint64_t live = seg_live[seg];
      r->live_bytes += live;
      r->garbage_bytes += bytes - std::min(bytes, live);
      if (seg >= indexed.segment || seg >= follow_pin) continue;
      const double frac = bytes > 0 ? static_cast<double>(live) / static_cast<double>(bytes) : 0;
      if (frac <= max_live) candidates.emplace_back(frac, seg);
    }
    std::sort(candidates.begin(), candidates.end());
    // Bounded twice: bytes to copy, and index entries the switch (which
    // holds writes) rewrites or drops.
    uint64_t budget = disk_full ? 0 : std::min(o.max_copy_bytes, copy_room);
    uint64_t entries = o.max_switch_entries;
    for (auto [frac, seg] : candidates) {
      const uint64_t live = seg_live[seg], n = seg_entries[seg];
      if (live > budget || n > entries) {
        if (disk_full) break;
        const bool room_bound = copy_room < o.max_copy_bytes;
        r->stopped = live > budget ? (room_bound ? "free space to copy into (" + std::to_string(copy_room)
                                                 : "copy budget (" + std::to_string(o.max_copy_bytes)) +
                                         " bytes) reached"
                                   : "index entry budget of " + std::to_string(o.max_switch_entries) + " reached";
        if (victims.empty() && n > entries) continue;  // never stall on one big segment
        break;
      }
      budget -= live;
      entries -= n;
      victims.push_back(seg);
    }
    std::sort(victims.begin(), victims.end());
    if (victims.empty()) return Status::OK();
    return WalkVersions(
        txn, catalog_->blocks_db, [&](const BlockKey& k, const BlockVersion& v, uint64_t newer) {
          if ((v.flags & journal::kZero) ||
              !std::binary_search(victims.begin(), victims.end(), v.loc.segment)) {
            return;
          }
          if (rules.Live(k.disk, k.branch, k.seq, newer)) moves.push_back(Entry{k, v});
        });
  }));
  // Garbage entries in a victim go with it; elsewhere they go too (the
  // index shrinks), their bytes wait for their segment's turn.

  // Copy forward, in location order, a batch at a time: read outside the
  // write lock, append under it.
  std::sort(moves.begin(), moves.end(), LocBefore);
  std::vector<journal::RecordLocation> copies;
  RPFS_RETURN_IF_ERROR(CopyForward(moves, o.rate_bytes_per_s, &copies, &r->copied_bytes));
  r->copied_records = moves.size();

  // The switch.
  auto InVictim = [&](const Entry& e) {
    return !(e.version.flags & journal::kZero) &&
           std::binary_search(victims.begin(), victims.end(), e.version.loc.segment);
  };
  {
    std::lock_guard<std::mutex> l(write_mu_);
    if (pin_generation_ != generation) {
      r->stopped = "branches, policies or jobs changed during the pass; the next pass retries";
      return Status::OK();
    }
    std::map<std::string, Group> moved_horizons;
    {
      std::shared_lock<std::shared_mutex> rl(rows_mu_);
      for (const auto& [name, g] : groups_) {
        Group row = g;
        auto w = plan.window_start.find(name);
        if (w != plan.window_start.end() && w->second > g.horizon_seq) {
          row.horizon_seq = w->second;
          row.horizon_ns = std::max(g.horizon_ns, plan.window_ns[name]);
        }
        row.latest_bytes = latest_bytes[name];
        if (row.horizon_seq != g.horizon_seq || row.latest_bytes != g.latest_bytes) {
          moved_horizons[name] = row;
        }
      }
    }
    RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
      RPFS_RETURN_IF_ERROR(PointAtCopies(txn, moves, copies));
      for (const Entry& e : garbage) {
        if (!InVictim(e)) continue;  // the rest goes after, in small batches
        RPFS_RETURN_IF_ERROR(txn.Del(catalog_->blocks_db, EncodeBlockKey(e.key).view()));
        ++r->dropped_versions;
      }
      for (uint32_t seg : victims) {
        RPFS_RETURN_IF_ERROR(txn.Put(catalog_->retired, BigEndianKey32(seg), ""));
      }
      for (const auto& [name, g] : moved_horizons) {
        RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->groups, name, g));
      }
      // The meta as committed (a background index flush may have moved
      // the indexed position past meta_'s), with this pass's figures.
      VaultMeta m;
      RPFS_RETURN_IF_ERROR(catalog_->LoadMeta(txn, &m));
      m.live_bytes = r->live_bytes;
      m.garbage_bytes = r->garbage_bytes;
      m.compacted_ns = now;
      return catalog_->PutMeta(txn, m);
    }));
    meta_.live_bytes = r->live_bytes;
    meta_.garbage_bytes = r->garbage_bytes;
    meta_.compacted_ns = now;
    r->segments_rewritten = static_cast<uint32_t>(victims.size());
    std::unique_lock<std::shared_mutex> rl(rows_mu_);
    for (const auto& [name, g] : moved_horizons) {
      groups_[name].horizon_seq = g.horizon_seq;
      groups_[name].horizon_ns = g.horizon_ns;
      groups_[name].latest_bytes = g.latest_bytes;
    }
  }
  RPFS_RETURN_IF_ERROR(RetireSegments(victims, &r->reclaimed_bytes));
  // Garbage entries elsewhere: the index shrinks, their bytes wait for
  // their segment's turn. Small batches, so writes are held only briefly.
  constexpr size_t kDropBatch = 16384;
  std::vector<const Entry*> rest;
  for (const Entry& e : garbage) {
    if (!InVictim(e)) rest.push_back(&e);
  }
  for (size_t i = 0; i < rest.size(); i += kDropBatch) {
    std::lock_guard<std::mutex> l(write_mu_);
    if (pin_generation_ != generation) break;  // a new pin: leave the rest to the next pass
    const size_t end = std::min(rest.size(), i + kDropBatch);
    RPFS_RETURN_IF_ERROR(catalog_->env().Update([&](Txn& txn) {
      for (size_t k = i; k < end; ++k) {
        RPFS_RETURN_IF_ERROR(txn.Del(catalog_->blocks_db, EncodeBlockKey(rest[k]->key).view()));
      }
      return Status::OK();
    }));
    r->dropped_versions += end - i;
  }
  if (r->cap_cut_ns > 0) {
    // The operator's record of it (stat and the daemon log say it too).
    Job job;
    job.kind = "retention-shrink";
    job.details = "vault at " + std::to_string(vault_bytes) + " bytes nears its cap of " +
                  std::to_string(cap) + ": reclaimed history before " +
                  FormatRfc3339(r->cap_cut_ns) + " (" + r->shrunk + ")";
    JobLog log(*this);
    RPFS_RETURN_IF_ERROR(log.Start(&job));
    RPFS_RETURN_IF_ERROR(log.Finish(&job, Status::OK()));
  }
  return Status::OK();
}

Status Vault::PlanRetention(uint64_t now, uint64_t cut_ns, RetentionPlan* plan) {
  *plan = RetentionPlan();
  RetentionRules& rules = plan->rules;
  for (const Group& g : ListGroups()) {
    const uint64_t window_ns = g.retention_s * 1000000000ull;
    const uint64_t from = std::max(now > window_ns ? now - window_ns : 0, cut_ns);
    uint64_t w = 0;
    if (from > 0) RPFS_RETURN_IF_ERROR(SeqAtTime(from, &w));
    plan->window_start[g.name] = std::max(w, g.horizon_seq);
    plan->window_ns[g.name] = std::max(from, g.horizon_ns);
  }
  for (const Branch& b : ListBranches()) rules.PinChain(ChainFor(View{b.id, kMaxSeq}));
  for (const Point& p : ListPoints("")) {
    if (p.time_ns >= cut_ns) rules.PinChain(ChainFor(View{p.branch, p.seq}));
  }
  for (const Job& j : JobLog(*this).List()) {
    // An unfinished failback reads its group at the checkpoint's seq, cap
    // or not.
    if (j.kind != "failback" || j.state == "succeeded" || !j.checkpoint.is_object()) continue;
    Group g;
    if (!GetGroup(j.group, &g).ok()) continue;
    const uint64_t seq = j.checkpoint.value("seq", uint64_t{0});
    rules.PinChain(ChainFor(View{g.active_branch, seq}));
    // Its reads must pass the horizon too: the window reaches back to it.
    auto w = plan->window_start.find(j.group);
    if (w != plan->window_start.end()) w->second = std::min(w->second, std::max(seq, g.horizon_seq));
  }
  for (const Disk& d : ListDisks()) {
    auto w = plan->window_start.find(d.group);
    rules.KeepDisk(d.id, w == plan->window_start.end() ? 0 : w->second);
  }
  rules.Finish();
  return Status::OK();
}

Status Vault::RetireSegments(const std::vector<uint32_t>& segments, uint64_t* bytes) {
  if (segments.empty()) return Status::OK();
  // Wait for readers that may hold old locations; never block new ones
  // for long (try, do not queue), and give up after a while: the next
  // pass tries again.
  std::unique_lock<std::shared_mutex> l(segment_readers_mu_, std::defer_lock);
  for (int i = 0; i < 2000 && !l.try_lock(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!l.owns_lock()) return Status::OK();
  uint64_t freed = 0;
  for (uint32_t seg : segments) {
    struct stat st;
    if (::stat(journal_->SegmentPath(seg).c_str(), &st) == 0) freed += static_cast<uint64_t>(st.st_size);
    RPFS_RETURN_IF_ERROR(journal_->Retire(seg));
  }
  l.unlock();
  *bytes += freed;
  std::lock_guard<std::mutex> w(write_mu_);
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    VaultMeta m;
    RPFS_RETURN_IF_ERROR(catalog_->LoadMeta(txn, &m));
    m.reclaimed_bytes += freed;
    return catalog_->PutMeta(txn, m);
  }));
  meta_.reclaimed_bytes += freed;
  return Status::OK();
}

}  // namespace rpfs::catalog
