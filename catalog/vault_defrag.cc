// Defragmentation: lays a disk's latest view out again in block order.
//
// The journal is append-only, so after random writes a disk's blocks, in
// disk order, lie wherever the writes put them, and a sequential read of
// the disk (a guest booting a point, an export, a copy) becomes one small
// read per block: bound by the device's random-read rate, not its
// bandwidth. A pass: (1) flush the index, so LMDB holds every version;
// (2) walk the latest view of each disk once in block order (BlockMap::Scan,
// one LMDB snapshot) and cut it into 1 MiB extents; an extent whose data
// records lie in more than max_runs_per_extent separate runs of the
// journal (records within 32 KiB of each other, forward, count as one
// run: the read path reads such gaps through) is fragmented; (3) pick the
// fragmented extents none of whose versions is newer than the quiet time
// (a region still being written would be scattered again), up to the copy
// budget; (4) copy their records to the journal's end in block order
// (vault_copy_forward.cc: same seq, flag kCopy, read in parallel, appended
// under the write lock in batches, then synced); (5) in one durable LMDB
// transaction under the write lock, point the moved versions at their
// copies. A point that shares a version with the latest view reads the
// copy too; versions only a point sees stay where they are. The old
// records are garbage from then on: compaction reclaims their segments.
//
// Crash safety is compaction's: before (5) commits nothing refers to the
// copies, and a replay that meets them indexes the same versions at equal
// bytes. The pass holds compact_mu_, so no compaction retires a segment
// under it or moves a version it picked.
//
// Cost: one index seek per mapped block, the copied bytes read and written
// once. Near the size cap (over 80% of it) a pass copies nothing, and it
// never copies more than the file system has room for less two segments:
// space goes before speed.
#include <algorithm>

#include "catalog/block_fetch.h"
#include "catalog/vault.h"

namespace rpfs::catalog {
namespace {

constexpr uint64_t kExtentBytes = 1u << 20;

// The separate journal runs the records of one extent (block order) lie in.
uint32_t CountRuns(const std::vector<KeyedVersion>& extent) {
  uint32_t runs = 0;
  const journal::RecordLocation* prev = nullptr;
  for (const KeyedVersion& e : extent) {
    const journal::RecordLocation& loc = e.version.loc;
    const bool joins = prev != nullptr && prev->segment == loc.segment &&
                       loc.offset >= uint64_t{prev->offset} + prev->size &&
                       loc.offset - (uint64_t{prev->offset} + prev->size) <= BlockFetch::kMaxGap;
    if (!joins) ++runs;
    prev = &loc;
  }
  return runs;
}

}  // namespace

Status Vault::Defragment(const DefragOptions& o, DefragReport* r) {
  *r = DefragReport();
  std::lock_guard<std::mutex> pass(compact_mu_);
  const uint64_t now = clock_();
  uint64_t quiet_seq = kMaxSeq;  // versions newer than this are still changing
  if (o.quiet_ns > 0) {
    if (now <= o.quiet_ns) return Status::OK();
    RPFS_RETURN_IF_ERROR(SeqAtTime(now - o.quiet_ns, &quiet_seq));
  }
  uint64_t cap;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    cap = meta_.max_size;
    RPFS_RETURN_IF_ERROR(FlushIndexLocked());  // BlockMap::Scan reads LMDB only
  }
  if (cap > 0) {
    VaultStats st;
    RPFS_RETURN_IF_ERROR(Stats(&st));
    if (st.journal_bytes + st.catalog_bytes > cap / 10 * 8) {
      r->stopped = "the vault is over 80% of its size cap: space goes before layout";
      return Status::OK();
    }
  }

  std::vector<KeyedVersion> moves, extent;
  // Never more than the file system has room for (Vault::CopyRoom).
  const uint64_t room = CopyRoom();
  uint64_t budget = std::min(o.max_copy_bytes, room);
  for (const Disk& d : ListDisks()) {
    if (o.disk != 0 && d.id != o.disk) continue;
    const uint64_t bs = meta_.block_size;
    const uint64_t extent_blocks = std::max<uint64_t>(1, kExtentBytes / bs);
    const uint64_t blocks = (d.size + bs - 1) / bs;
    const BranchChain chain = ChainFor(Latest(d));
    uint64_t current = UINT64_MAX;  // the extent being gathered
    auto judge = [&] {
      if (extent.empty()) return;
      ++r->extents;
      const uint32_t runs = CountRuns(extent);
      if (runs > o.max_runs_per_extent) {
        ++r->fragmented_extents;
        uint64_t bytes = 0, newest = 0;
        for (const KeyedVersion& e : extent) {
          bytes += e.version.loc.size;
          newest = std::max(newest, e.key.seq);
        }
        if (newest > quiet_seq) {
          ++r->busy_extents;
        } else if (bytes > budget) {
          if (r->stopped.empty()) {
            r->stopped = room < o.max_copy_bytes
                             ? "free space to copy into (" + std::to_string(room) + " bytes) reached"
                             : "copy budget of " + std::to_string(o.max_copy_bytes) + " bytes reached";
          }
        } else {
          budget -= bytes;
          ++r->rewritten_extents;
          moves.insert(moves.end(), extent.begin(), extent.end());
        }
      }
      extent.clear();
    };
    RPFS_RETURN_IF_ERROR(catalog_->blocks().Scan(
        d.id, chain, 0, blocks, [&](uint64_t block, const FoundBlock& found) -> Status {
          if (block / extent_blocks != current) {
            judge();
            current = block / extent_blocks;
          }
          if (!(found.version.flags & journal::kZero)) {
            extent.push_back(KeyedVersion{BlockKey{d.id, found.branch, block, found.version.seq},
                                          found.version});
          }
          return Status::OK();
        }));
    judge();
  }
  if (moves.empty()) return Status::OK();

  std::vector<journal::RecordLocation> copies;
  RPFS_RETURN_IF_ERROR(CopyForward(moves, o.rate_bytes_per_s, &copies, &r->copied_bytes));
  r->copied_records = moves.size();
  std::lock_guard<std::mutex> l(write_mu_);
  return PutRowDurably([&](Txn& txn) { return PointAtCopies(txn, moves, copies); });
}

}  // namespace rpfs::catalog
