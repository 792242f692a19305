// Vault index flushes: the in-memory block versions, points and timeline
// entries go to LMDB once index_flush_entries versions are pending.
//
// A flush syncs the journal (the index must never name a record the
// journal could still lose) and commits one LMDB transaction: together
// most of a second for 2^18 versions on a slow disk. In the write path,
// under write_mu_, every writer would wait for it. So a thread of the
// vault's own does it: it makes the cut under write_mu_ (which versions,
// up to which seq and journal position), lets go of the lock for the sync
// and the commit, and takes it again to publish. Readers see the versions
// being flushed all along (BlockMap keeps them until the commit). Flushes
// never overlap: FlushIndexLocked (points, scans, close) first waits out
// a background one. If the flusher falls 4x behind, or failed, the writer
// flushes itself and hears the error.
#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>

#include "catalog/vault.h"

namespace rpfs::catalog {
namespace {

// What a flush writes beside the block versions: the points and the
// timeline entries (ms -> first seq) gathered since the last one, and the
// replica links as of the cut.
Status PutPointsAndTimeline(Catalog& catalog, Txn& txn, const std::vector<Point>& points,
                            const std::vector<std::pair<uint64_t, uint64_t>>& timeline,
                            const std::map<std::string, ReplicaLink>& links) {
  for (const auto& [key, link] : links) {
    RPFS_RETURN_IF_ERROR(catalog.PutRow(txn, catalog.links, key, link));
  }
  for (const Point& p : points) {
    RPFS_RETURN_IF_ERROR(catalog.PutRow(txn, catalog.points, BigEndianKey64(p.id), p));
  }
  for (auto [ms, first] : timeline) {
    RPFS_RETURN_IF_ERROR(txn.Put(catalog.timeline, BigEndianKey64(ms), BigEndianKey64(first)));
  }
  return Status::OK();
}

}  // namespace

Status Vault::FlushIndex() {
  std::lock_guard<std::mutex> l(write_mu_);
  return FlushIndexLocked();
}

Status Vault::FlushIndexLocked() {
  if (bg_flushing_) {
    // The caller's lock, let go of while waiting so the flusher can publish.
    std::unique_lock<std::mutex> l(write_mu_, std::adopt_lock);
    flush_cv_.wait(l, [&] { return !bg_flushing_; });
    l.release();
  }
  // The index must never name a record the journal could still lose.
  RPFS_RETURN_IF_ERROR(journal_->Sync());
  VaultMeta m = meta_;
  m.indexed_seq = last_seq_;
  m.indexed_pos = journal_->end();
  RPFS_RETURN_IF_ERROR(catalog_->blocks().Flush([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(
        PutPointsAndTimeline(*catalog_, txn, pending_points_, pending_timeline_, links_));
    return catalog_->PutMeta(txn, m);
  }));
  meta_ = m;
  {
    std::unique_lock<std::shared_mutex> l(rows_mu_);
    for (const Point& p : pending_points_) points_[p.id] = p;
  }
  pending_points_.clear();
  pending_timeline_.clear();
  return Status::OK();
}

Status Vault::NoteIndexGrowthLocked() {
  const size_t pending = catalog_->blocks().pending();
  if (pending < options_.index_flush_entries) return Status::OK();
  if (!flusher_.joinable() || !bg_flush_status_.ok() ||
      pending >= 4 * options_.index_flush_entries) {
    bg_flush_status_ = Status::OK();  // this flush retries it, and reports
    return FlushIndexLocked();
  }
  if (!flush_wanted_) {
    flush_wanted_ = true;
    flush_cv_.notify_all();
  }
  return Status::OK();
}

void Vault::RequestIndexFlush(size_t min_entries) {
  std::lock_guard<std::mutex> l(write_mu_);
  if (!flusher_.joinable() || bg_flushing_ || catalog_->blocks().pending() < min_entries) return;
  flush_floor_ = std::min(flush_floor_, min_entries);
  flush_wanted_ = true;
  flush_cv_.notify_all();
}

void Vault::StartIndexFlusher() {
  if (!options_.background_index_flush || flusher_.joinable()) return;
  flusher_ = std::thread([this] { IndexFlusherLoop(); });
}

void Vault::StopIndexFlusher() {
  if (!flusher_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    stop_flusher_ = true;
    flush_cv_.notify_all();
  }
  flusher_.join();
}

void Vault::IndexFlusherLoop() {
  std::unique_lock<std::mutex> l(write_mu_);
  for (;;) {
    flush_cv_.wait(l, [&] { return stop_flusher_ || flush_wanted_; });
    if (stop_flusher_) return;
    flush_wanted_ = false;
    const size_t floor = std::min(options_.index_flush_entries, flush_floor_);
    flush_floor_ = SIZE_MAX;
    // A flush in the write path may have got there first.
    if (catalog_->blocks().pending() < floor) continue;
    bg_flushing_ = true;
    Status s = FlushIndexInBackground(l);
    bg_flushing_ = false;
    if (!s.ok()) bg_flush_status_ = s;
    flush_cv_.notify_all();
  }
}

Status Vault::FlushIndexInBackground(std::unique_lock<std::mutex>& l) {
  // The cut, under write_mu_: everything written so far, nothing after.
  const uint64_t seq = last_seq_;
  const journal::JournalPos pos = journal_->end();
  std::vector<Point> points;
  points.swap(pending_points_);
  const std::map<std::string, ReplicaLink> links = links_;
  flushing_timeline_.swap(pending_timeline_);
  catalog_->blocks().BeginFlush();
  l.unlock();

  Status s = journal_->Sync();
  if (s.ok()) {
    s = catalog_->blocks().CommitFlush([&](Txn& txn) {
      RPFS_RETURN_IF_ERROR(PutPointsAndTimeline(*catalog_, txn, points, flushing_timeline_, links));
      // Only the indexed position: the other fields may have changed
      // since the cut, and whoever changed them wrote them.
      VaultMeta m;
      RPFS_RETURN_IF_ERROR(catalog_->LoadMeta(txn, &m));
      m.indexed_seq = seq;
      m.indexed_pos = pos;
      return catalog_->PutMeta(txn, m);
    });
  } else {
    catalog_->blocks().AbortFlush();
  }

  l.lock();
  if (!s.ok()) {
    // Back in front of what came since, for the next flush.
    pending_points_.insert(pending_points_.begin(), points.begin(), points.end());
    pending_timeline_.insert(pending_timeline_.begin(), flushing_timeline_.begin(),
                             flushing_timeline_.end());
    flushing_timeline_.clear();
    return s;
  }
  meta_.indexed_seq = seq;
  meta_.indexed_pos = pos;
  {
    std::unique_lock<std::shared_mutex> rl(rows_mu_);
    for (const Point& p : points) points_[p.id] = p;
  }
  flushing_timeline_.clear();
  return Status::OK();
}

}  // namespace rpfs::catalog
