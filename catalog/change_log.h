// ChangeLog: which blocks each (disk, branch) wrote in a range of seqs.
// It is what makes failback, diff and reprotect's "bytes to send" cost
// O(changed blocks): the block map answers "where is block b", not
// "what changed after seq s" (that would be a walk of every block).
//
// LMDB database "changes", one row per (disk, branch) per index flush,
// written in the flush's transaction, so it never disagrees with the map:
//
//   key    disk BE32, branch BE32, max seq BE64 (the row's newest version)
//   value  varint min seq, varint count, then count pairs in block order:
//          varint (block - previous block), varint (seq - min seq)
//
// Flushes cover disjoint, increasing seq ranges, so the rows of one
// (disk, branch) are ordered by seq range as well as by key: a query for
// (lo, hi] seeks to the first row whose max seq > lo and stops at the
// first row whose min seq > hi.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "catalog/block_key.h"
#include "catalog/lmdb.h"

namespace rpfs::catalog {

struct ChangeEntry {
  uint64_t block = 0;
  uint64_t seq = 0;
};

// Writes the rows for `entries` (any mix of disks and branches, in
// BlockKey order, as the block map's in-memory table holds them).
Status AppendChangeRows(Txn& txn, MDB_dbi dbi, const std::map<BlockKey, BlockVersion>& entries);

// Writes one row for (disk, branch) holding `changes` (any order).
Status PutChangeRow(Txn& txn, MDB_dbi dbi, uint32_t disk, uint32_t branch,
                    std::vector<ChangeEntry> changes);

// Calls fn for every recorded version of (disk, branch) with lo < seq <= hi.
Status ForEachChange(Txn& txn, MDB_dbi dbi, uint32_t disk, uint32_t branch, uint64_t lo,
                     uint64_t hi, const std::function<Status(const ChangeEntry&)>& fn);

// Forgets every version with seq > last (the journal turned out shorter).
Status TruncateChangesAfter(Txn& txn, MDB_dbi dbi, uint64_t last);

// Builds the rows of a vault indexed before the change log existed, from
// the block map (one pass; rows of at most `row_entries` versions).
Status BuildChangeLog(Txn& txn, MDB_dbi blocks, MDB_dbi changes, size_t row_entries);

}  // namespace rpfs::catalog
