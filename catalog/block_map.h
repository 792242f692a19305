// BlockMap: the versioned index from (disk, branch, block, seq) to the
// journal record holding that version of the block.
//
// New versions first land in an in-memory table (Add) and reach LMDB in
// batches (Flush), so a 4 KiB write costs a map insert, not a B-tree
// commit; the journal replays whatever the LMDB part lost. Lookups see
// both. A lookup walks a branch chain, child first: each level is a
// branch and the newest seq visible on it (the child's fork seq bounds
// what it sees of its parent). Each level costs one in-memory probe and
// at most one cursor seek.
// Thread-safe: Add and Flush from one writer at a time, Readers from any.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "catalog/block_key.h"
#include "catalog/lmdb.h"

namespace rpfs::catalog {

struct BranchLevel {
  uint32_t branch = 0;
  uint64_t max_seq = kMaxSeq;
};
using BranchChain = std::vector<BranchLevel>;  // child first, root last

struct FoundBlock {
  bool found = false;
  uint32_t branch = 0;
  BlockVersion version;
};

class BlockMap {
 public:
  // dbi: the map; changes: its change log (catalog/change_log.h).
  BlockMap(Env* env, MDB_dbi dbi, MDB_dbi changes) : env_(env), dbi_(dbi), changes_(changes) {}
  ~BlockMap();

  void Add(const BlockKey& key, const BlockVersion& version);
  size_t pending() const;
  size_t unflushed() const;  // pending, plus those a flush is writing

  // Lookups against one consistent snapshot (a read txn plus the
  // in-memory tables); use one Reader for all blocks of a request.
  class Reader {
   public:
    ~Reader();
    Status Find(uint32_t disk, const BranchChain& chain, uint64_t block, FoundBlock* out);

   private:
    friend class BlockMap;
    Reader(const BlockMap* map, Txn* txn) : map_(map), txn_(txn) {}
    Status FindOnBranch(uint32_t disk, const BranchLevel& level, uint64_t block, FoundBlock* out);
    const BlockMap* map_;
    Txn* txn_;
    std::unique_ptr<Cursor> cursor_;  // opened on first use, reused for every block
  };
  template <class Fn>
  Status Read(Fn&& fn) const {
    std::shared_lock<std::shared_mutex> l(mu_);
    return env_->View([&](Txn& txn) {
      Reader r(this, &txn);
      return fn(r);
    });
  }

  // The blocks of (disk, branch) with a version lo < seq <= hi, sorted
  // and unique: the change log plus the in-memory tables. O(changes).
  Status ChangedBlocks(uint32_t disk, uint32_t branch, uint64_t lo, uint64_t hi,
                       std::vector<uint64_t>* blocks) const;

  // Writes the in-memory versions (and their change log rows) to LMDB, in one transaction with
  // whatever `also` writes (the indexed position, points, ...).
  Status Flush(const std::function<Status(Txn&)>& also) {
    BeginFlush();
    return CommitFlush(also);
  }
  // Flush in two steps, so that the cut (which versions go) can be made
  // under the writer's lock and the LMDB work done outside it. Readers see
  // the versions being flushed all along; writers Add meanwhile. One flush
  // at a time: the caller serializes BeginFlush..CommitFlush pairs. If the
  // commit fails, the versions stay in memory and go with the next flush.
  void BeginFlush();
  Status CommitFlush(const std::function<Status(Txn&)>& also);
  void AbortFlush();  // after BeginFlush, when the caller cannot commit

  // Calls fn for each block in [first, end) that has a version visible
  // through chain, in block order, with the version that wins. Reads
  // LMDB only: Flush first. Costs one seek per mapped block and level.
  Status Scan(uint32_t disk, const BranchChain& chain, uint64_t first, uint64_t end,
              const std::function<Status(uint64_t block, const FoundBlock&)>& fn) const;

  // Drops every version whose record lies at or past `end`: the repair
  // when the journal turns out shorter than the index. Journal order is
  // write order, so this also cuts a write call torn between blocks.
  // Costs a pass over the whole map.
  Status RemoveFrom(journal::JournalPos end, uint64_t* removed);

  // Calls fn for every version in LMDB (verify --deep).
  Status ForEach(const std::function<Status(const BlockKey&, const BlockVersion&)>& fn) const;

 private:
  // In-memory versions, and the oldest seq among them: a probe older than
  // that cannot hit, so reads of old points skip the search.
  struct Table {
    std::map<BlockKey, BlockVersion> entries;
    uint64_t min_seq = kMaxSeq;
  };
  static bool FindIn(const Table& t, const BlockKey& probe, BlockVersion* v);

  Env* env_;
  MDB_dbi dbi_;
  MDB_dbi changes_;
  // Read-only cursors kept for reuse: renewing one costs no allocation.
  mutable std::mutex idle_cursors_mu_;
  mutable std::vector<MDB_cursor*> idle_cursors_;
  mutable std::shared_mutex mu_;  // guards pending_ and flushing_
  Table pending_;
  Table flushing_;  // being written by Flush; still visible to readers
};

}  // namespace rpfs::catalog
