#include "catalog/block_map.h"

#include <algorithm>
#include <mutex>

#include "catalog/change_log.h"

namespace rpfs::catalog {

BlockMap::~BlockMap() {
  for (MDB_cursor* c : idle_cursors_) mdb_cursor_close(c);
}

BlockMap::Reader::~Reader() {
  if (!cursor_) return;
  MDB_cursor* c = cursor_->Release();
  if (c == nullptr) return;
  std::lock_guard<std::mutex> l(map_->idle_cursors_mu_);
  if (map_->idle_cursors_.size() < 64) {
    map_->idle_cursors_.push_back(c);
  } else {
    mdb_cursor_close(c);
  }
}

void BlockMap::Add(const BlockKey& key, const BlockVersion& version) {
  std::unique_lock<std::shared_mutex> l(mu_);
  pending_.entries[key] = version;
  pending_.min_seq = std::min(pending_.min_seq, key.seq);
}

size_t BlockMap::pending() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return pending_.entries.size();
}

size_t BlockMap::unflushed() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return pending_.entries.size() + flushing_.entries.size();
}

bool BlockMap::FindIn(const Table& t, const BlockKey& probe, BlockVersion* v) {
  if (probe.seq < t.min_seq) return false;
  auto it = t.entries.lower_bound(probe);
  if (it == t.entries.end() || !it->first.SameBlock(probe)) return false;
  *v = it->second;
  return true;
}

Status BlockMap::Reader::FindOnBranch(uint32_t disk, const BranchLevel& level, uint64_t block,
                                      FoundBlock* out) {
  BlockKey probe{disk, level.branch, block, level.max_seq};
  // In-memory versions are newer than any in LMDB, so a hit there wins.
  if (FindIn(map_->pending_, probe, &out->version) || FindIn(map_->flushing_, probe, &out->version)) {
    out->found = true;
    out->branch = level.branch;
    return Status::OK();
  }
  if (!cursor_) {
    MDB_cursor* reuse = nullptr;
    {
      std::lock_guard<std::mutex> l(map_->idle_cursors_mu_);
      if (!map_->idle_cursors_.empty()) {
        reuse = map_->idle_cursors_.back();
        map_->idle_cursors_.pop_back();
      }
    }
    cursor_ = std::make_unique<Cursor>(*txn_, map_->dbi_, reuse);
  }
  Cursor& c = *cursor_;
  RPFS_RETURN_IF_ERROR(c.SeekAtLeast(EncodeBlockKey(probe).view()));
  BlockKey k;
  if (!c.valid() || !DecodeBlockKey(c.key(), &k) || !k.SameBlock(probe)) return Status::OK();
  if (!DecodeBlockValue(c.value(), k.seq, &out->version)) {
    return Status::Corruption("catalog: malformed block map value");
  }
  out->found = true;
  out->branch = level.branch;
  return Status::OK();
}

Status BlockMap::Reader::Find(uint32_t disk, const BranchChain& chain, uint64_t block,
                              FoundBlock* out) {
  *out = FoundBlock();
  for (const BranchLevel& level : chain) {
    RPFS_RETURN_IF_ERROR(FindOnBranch(disk, level, block, out));
    if (out->found) return Status::OK();
  }
  return Status::OK();
}

void BlockMap::BeginFlush() {
  std::unique_lock<std::shared_mutex> l(mu_);
  std::swap(flushing_, pending_);
}

Status BlockMap::CommitFlush(const std::function<Status(Txn&)>& also) {
  Status s = env_->Update([&](Txn& txn) {
    // A flush whose keys all sort after the table's last one (a new disk
    // being filled: an import, a first replication) is appended: no
    // search per key, full pages.
    bool append = false;
    if (!flushing_.entries.empty()) {
      Cursor last(txn, dbi_);
      RPFS_RETURN_IF_ERROR(last.Last());
      append = !last.valid() ||
               last.key() < EncodeBlockKey(flushing_.entries.begin()->first).view();
    }
    for (const auto& [key, version] : flushing_.entries) {
      const auto k = EncodeBlockKey(key);
      const auto v = EncodeBlockValue(version);
      RPFS_RETURN_IF_ERROR(append ? txn.Append(dbi_, k.view(), v.view())
                                  : txn.Put(dbi_, k.view(), v.view()));
    }
    RPFS_RETURN_IF_ERROR(AppendChangeRows(txn, changes_, flushing_.entries));
    return also(txn);
  });
  if (!s.ok()) {
    AbortFlush();
    return s;
  }
  Table done;  // freed after the lock: a big table takes a while
  std::unique_lock<std::shared_mutex> l(mu_);
  std::swap(done, flushing_);
  l.unlock();
  return s;
}

void BlockMap::AbortFlush() {
  // Keep the versions visible and retry them with the next flush.
  std::unique_lock<std::shared_mutex> l(mu_);
  flushing_.entries.merge(pending_.entries);
  flushing_.min_seq = std::min(flushing_.min_seq, pending_.min_seq);
  std::swap(pending_, flushing_);
  flushing_ = Table();
}

Status BlockMap::ChangedBlocks(uint32_t disk, uint32_t branch, uint64_t lo, uint64_t hi,
                               std::vector<uint64_t>* blocks) const {
  blocks->clear();
  std::shared_lock<std::shared_mutex> l(mu_);
  for (const Table* t : {&pending_, &flushing_}) {
    auto it = t->entries.lower_bound(BlockKey{disk, branch, 0, kMaxSeq});
    for (; it != t->entries.end() && it->first.disk == disk && it->first.branch == branch; ++it) {
      if (it->first.seq > lo && it->first.seq <= hi) blocks->push_back(it->first.block);
    }
  }
  RPFS_RETURN_IF_ERROR(env_->View([&](Txn& txn) {
    return ForEachChange(txn, changes_, disk, branch, lo, hi, [&](const ChangeEntry& e) {
      blocks->push_back(e.block);
      return Status::OK();
    });
  }));
  std::sort(blocks->begin(), blocks->end());
  blocks->erase(std::unique(blocks->begin(), blocks->end()), blocks->end());
  return Status::OK();
}

Status BlockMap::Scan(uint32_t disk, const BranchChain& chain, uint64_t first, uint64_t end,
                      const std::function<Status(uint64_t, const FoundBlock&)>& fn) const {
  return env_->View([&](Txn& txn) {
    // Per level: the next block >= cursor position that has a version
    // visible at that level, or `end` if none.
    struct Level {
      BranchLevel level;
      uint64_t next = 0;
      BlockVersion version;
      std::unique_ptr<Cursor> cursor;
    };
    std::vector<Level> levels(chain.size());
    auto advance = [&](Level& lv, uint64_t from) -> Status {
      uint64_t b = from;
      while (b < end) {
        BlockKey probe{disk, lv.level.branch, b, lv.level.max_seq};
        RPFS_RETURN_IF_ERROR(lv.cursor->SeekAtLeast(EncodeBlockKey(probe).view()));
        BlockKey k;
        if (!lv.cursor->valid() || !DecodeBlockKey(lv.cursor->key(), &k) || k.disk != disk ||
            k.branch != lv.level.branch) {
          break;
        }
        if (k.block == b) {  // a version <= max_seq of block b
          if (!DecodeBlockValue(lv.cursor->value(), k.seq, &lv.version)) {
            return Status::Corruption("catalog: malformed block map value");
          }
          lv.next = b;
          return Status::OK();
        }
        b = k.block;  // block b has only newer versions; try the next mapped one
      }
      lv.next = end;
      return Status::OK();
    };
    for (size_t i = 0; i < chain.size(); ++i) {
      levels[i].level = chain[i];
      levels[i].cursor = std::make_unique<Cursor>(txn, dbi_);
      RPFS_RETURN_IF_ERROR(advance(levels[i], first));
    }
    for (;;) {
      size_t best = levels.size();
      for (size_t i = 0; i < levels.size(); ++i) {
        if (levels[i].next < end && (best == levels.size() || levels[i].next < levels[best].next)) {
          best = i;  // strict < keeps the child on ties
        }
      }
      if (best == levels.size()) return Status::OK();
      uint64_t block = levels[best].next;
      FoundBlock found{true, levels[best].level.branch, levels[best].version};
      RPFS_RETURN_IF_ERROR(fn(block, found));
      for (Level& lv : levels) {
        if (lv.next == block) RPFS_RETURN_IF_ERROR(advance(lv, block + 1));
      }
    }
  });
}

Status BlockMap::RemoveFrom(journal::JournalPos end, uint64_t* removed) {
  *removed = 0;
  auto gone = [&](const BlockVersion& v) {
    return journal::JournalPos{v.loc.segment, v.loc.offset} >= end;
  };
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    std::erase_if(pending_.entries, [&](const auto& kv) { return gone(kv.second); });
  }
  return env_->Update([&](Txn& txn) {
    *removed = 0;
    Cursor c(txn, dbi_);
    RPFS_RETURN_IF_ERROR(c.First());
    while (c.valid()) {
      BlockKey k;
      BlockVersion v;
      if (DecodeBlockKey(c.key(), &k) && DecodeBlockValue(c.value(), k.seq, &v) && gone(v)) {
        // After mdb_cursor_del, MDB_NEXT yields the entry that followed.
        RPFS_RETURN_IF_ERROR(c.DeleteCurrent());
        ++*removed;
      }
      RPFS_RETURN_IF_ERROR(c.Next());
    }
    return Status::OK();
  });
}

Status BlockMap::ForEach(
    const std::function<Status(const BlockKey&, const BlockVersion&)>& fn) const {
  return env_->View([&](Txn& txn) {
    Cursor c(txn, dbi_);
    RPFS_RETURN_IF_ERROR(c.First());
    while (c.valid()) {
      BlockKey k;
      BlockVersion v;
      if (!DecodeBlockKey(c.key(), &k) || !DecodeBlockValue(c.value(), k.seq, &v)) {
        return Status::Corruption("catalog: malformed block map entry");
      }
      RPFS_RETURN_IF_ERROR(fn(k, v));
      RPFS_RETURN_IF_ERROR(c.Next());
    }
    return Status::OK();
  });
}

}  // namespace rpfs::catalog
