// Vault: the storage engine. One directory holding the journal/ segments,
// the LMDB catalog/ and a LOCK file; exactly one process opens it.
//
//   Write   appends one record per block to the journal (all blocks of a
//           call share one seq) and indexes them in memory; returns once
//           the records are in the journal's buffer. Sync() makes every
//           write before it durable (group commit).
//   Read    any view (branch, seq): one index probe per block and branch
//           level, then one journal read per non-zero block, checksum
//           checked. Never-written and zero blocks cost no I/O.
//   Points  O(1): a marker record, a sync, a catalog row.
//   Fork    O(1): a branch row with (parent, fork seq) (Failover).
//
// Unaligned writes read-modify-write their partial blocks. All-zero
// blocks are stored as a flag, not data. Thread-safe: writes are
// serialized by one mutex; reads run concurrently with them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/plan_rows.h"
#include "catalog/replica_batch.h"
#include "catalog/retention_rules.h"
#include "catalog/rows.h"
#include "journal/block_encoder.h"
#include "journal/data_key.h"
#include "journal/journal.h"

namespace rpfs::catalog {

struct VaultOptions {
  uint32_t block_size = 4096;
  int compression_level = kDefaultCompressionLevel;  // zstd level, 0 = store
  uint64_t max_segment_bytes = 64ull << 20;
  std::string passphrase_hash;
  uint64_t max_size = 0;  // see VaultMeta::max_size
  // Seal every journal payload (journal/payload_sealer.h) under a data
  // key wrapped with `passphrase` (journal/data_key.h).
  bool encrypt = false;
  std::string passphrase;
};

// One durable catalog transaction of a policy's rows (Vault::CommitRows).
struct RowCommit {
  Txn& txn;
  VaultMeta meta;             // a copy of the vault's meta row
  bool meta_changed = false;  // set when meta changed: written with the rows
};

struct OpenOptions {
  // In-memory index entries that trigger a flush to LMDB.
  size_t index_flush_entries = 1 << 18;
  // Flush on a thread of the vault's own, off the write path (false:
  // the write that crosses index_flush_entries flushes).
  bool background_index_flush = true;
  size_t initial_map_size = 64ull << 20;
  // Wall clock in ns since the epoch; tests inject their own.
  std::function<uint64_t()> clock;
  // Gives the passphrase of an encrypted vault; called by Open only for
  // one, before any journal read. Unset: Open refuses an encrypted vault.
  std::function<Status(std::string* passphrase)> passphrase;
};

// One compaction pass (catalog/vault_compaction.cc).
struct CompactOptions {
  double max_live_fraction = 0.5;       // sealed segments at most this live are rewritten
  uint64_t max_copy_bytes = 256ull << 20;  // live bytes copied forward per pass, at most
  uint64_t rate_bytes_per_s = 0;        // copy rate cap (0: none)
  size_t max_dropped_versions = 4u << 20;  // garbage index entries dropped per pass
  uint64_t max_switch_entries = 1u << 17;  // index entries of the segments rewritten per pass
};

struct CompactReport {
  std::vector<Point> expired;     // points that left their window
  uint64_t live_bytes = 0;        // journal bytes some view needs (before the pass)
  uint64_t garbage_bytes = 0;     // journal bytes nothing needs (before the pass)
  uint32_t segments_rewritten = 0;
  uint64_t copied_records = 0;
  uint64_t copied_bytes = 0;
  uint64_t dropped_versions = 0;  // garbage index entries
  uint64_t reclaimed_bytes = 0;   // segment files deleted
  // Near the size cap: history before this instant went, windows or not
  // (0: the cap did not bite). `shrunk` says which groups lost what.
  uint64_t cap_cut_ns = 0;
  std::string shrunk;
  std::string stopped;            // why the pass did less than it could ("": it did not)
};

// One defragmentation pass (catalog/vault_defrag.cc).
struct DefragOptions {
  uint32_t disk = 0;                 // the disk whose latest view is laid out (0: every disk)
  uint64_t quiet_ns = 0;             // extents written within this long are left alone (0: none)
  uint32_t max_runs_per_extent = 4;  // an extent read in more separate journal runs is rewritten
  uint64_t max_copy_bytes = 256ull << 20;  // bytes copied per pass, at most
  uint64_t rate_bytes_per_s = 0;     // copy rate cap (0: none)
};

struct DefragReport {
  uint64_t extents = 0;             // extents (1 MiB of the disk) holding data
  uint64_t fragmented_extents = 0;  // of those, in more runs than allowed, before the pass
  uint64_t busy_extents = 0;        // of those, left alone: written within the quiet time
  uint64_t rewritten_extents = 0;
  uint64_t copied_records = 0;
  uint64_t copied_bytes = 0;
  std::string stopped;              // why the pass did less than it could ("": it did not)
};

// What a read sees: a branch and the newest seq visible on it.
struct View {
  uint32_t branch = 1;
  uint64_t seq = kMaxSeq;
};

struct VaultStats {
  uint64_t journal_bytes = 0;
  uint64_t catalog_bytes = 0;
  uint32_t segments = 0;
  uint64_t last_seq = 0;
  uint64_t block_versions = 0;  // in the index, including not yet flushed
  uint64_t unflushed_versions = 0;  // of those, the ones only in memory
  uint64_t last_time_ns = 0;
};

class Vault {
 public:
  static Status Create(const std::string& dir, const VaultOptions& options,
                       const OpenOptions& open_options, std::unique_ptr<Vault>* out);
  static Status Open(const std::string& dir, const OpenOptions& options,
                     std::unique_ptr<Vault>* out);
  ~Vault();  // syncs the journal and flushes the index

  // Writes this process's pid into LOCK (after a daemon's fork).
  void NoteOwnerPid();

  // What Open's recovery found: a torn tail cut, an index rolled back.
  const std::vector<std::string>& recovery_notes() const { return recovery_notes_; }

  const std::string& dir() const { return dir_; }
  uint32_t block_size() const { return meta_.block_size; }
  const VaultMeta& meta() const { return meta_; }
  bool encrypted() const { return sealer_ != nullptr; }
  // Re-wraps the data key under `next` and stores next_hash as the
  // passphrase hash, durably, in one transaction; no payload is
  // rewritten. An encrypted vault checks `current` by unwrapping the key
  // (InvalidArgument "wrong passphrase for vault DIR"); for another the
  // caller checks it against the hash. vault_key.cc.
  Status ChangePassphrase(const std::string& current, const std::string& next,
                          const std::string& next_hash);
  uint64_t last_seq() const;
  uint64_t Now() const { return clock_(); }

  // Groups.
  Status CreateGroup(const Group& group);
  Status GetGroup(const std::string& name, Group* group) const;
  std::vector<Group> ListGroups() const;
  // Changes a group's policy: `edit` gets the current row (vault_retention.cc).
  Status SetGroupPolicy(const std::string& name, const std::function<Status(Group*)>& edit,
                        Group* out);
  // Drops the points older than their group's retention window, now.
  Status ExpirePoints(std::vector<Point>* expired);
  // The size cap (0: none), kept in the catalog.
  Status SetMaxSize(uint64_t bytes);
  // Logical bytes the group's disks wrote (every branch) after since_seq:
  // the change log, after a flush. O(changes).
  Status ChangedBytes(const std::string& group, uint64_t since_seq, uint64_t* bytes);
  // Expires points, then reclaims journal space no promised view needs:
  // rewrites mostly-dead sealed segments (live records copied to the
  // journal's end), drops garbage index entries, moves each group's
  // horizon to its window's start, deletes the old segment files. Crash-
  // safe at every step; writes are held only to append copies and to
  // commit the switch. One pass at a time.
  Status Compact(const CompactOptions& options, CompactReport* report);
  // Lays the latest view of each disk (or options.disk) out again in
  // block order where it is scattered over the journal: the records of
  // every 1 MiB extent read in more than max_runs_per_extent separate
  // runs are copied to the journal's end in block order and the index
  // pointed at the copies (points that share those versions gain too);
  // the old records become garbage for compaction. Crash-safe as Compact;
  // writes are held only to append copies and to commit the switch. Skipped
  // near the size cap. Shares Compact's one-pass-at-a-time lock.
  Status Defragment(const DefragOptions& options, DefragReport* report);
  // Held (shared) by whoever reads journal records by index location, so
  // that compaction does not delete a segment under a reader.
  std::shared_lock<std::shared_mutex> HoldSegments() const {
    return std::shared_lock<std::shared_mutex>(segment_readers_mu_);
  }

  // Disks. Sizes are bytes, rounded up to the block size.
  Status CreateDisk(const std::string& name, uint64_t size, const std::string& group, Disk* disk);
  Status RemoveDisk(const std::string& name);  // its row only; data is garbage (vault_remove_disk.cc)
  Status FindDisk(const std::string& name, Disk* disk) const;
  Status GetDisk(uint32_t id, Disk* disk) const;
  std::vector<Disk> ListDisks() const;

  // I/O. Write goes to the disk's active branch (its group's).
  Status Write(uint32_t disk, uint64_t offset, const void* data, size_t n);
  Status WriteBranch(uint32_t disk, uint32_t branch, uint64_t offset, const void* data, size_t n);
  // Write in two steps, for a bulk writer that encodes on several threads
  // and appends on one (an import): EncodeWrite does Write's CPU work (zero
  // tests, compression) on the calling thread, without a lock, into the
  // first `count` (returned) of *blocks: one per whole block of [offset,
  // offset + n), which may refer into `data` and into `room` (n bytes of
  // the caller's, where compressed blocks go, back to back). *blocks only
  // grows, so a reused one and its room allocate nothing. WriteEncoded
  // then writes them like Write; `data`, `room` and the blocks must not
  // change in between.
  size_t EncodeWrite(uint32_t disk, uint64_t offset, const void* data, size_t n,
                     std::vector<journal::EncodedBlock>* blocks, char* room) const;
  Status WriteEncoded(uint32_t disk, uint64_t offset, const void* data, size_t n,
                      const journal::EncodedBlock* blocks, size_t count);
  Status Read(uint32_t disk, View view, uint64_t offset, size_t n, void* out);
  // Starts reading the journal records of [offset, offset + n) of a view
  // into the host's page cache and returns without waiting for them
  // (catalog/vault_prefetch.cc): the mount daemon's readahead for readers
  // the kernel reads none ahead for (O_DIRECT; fs/read_ahead.h). *bytes:
  // how much was asked of the kernel.
  Status Prefetch(uint32_t disk, View view, uint64_t offset, size_t n, uint64_t* bytes);
  Status Sync();
  View Latest(const Disk& disk) const;

  // Calls fn for every block of the disk that holds data in view, in
  // block order (never-written and zero blocks are skipped), with the
  // block's bytes. Reads a consistent snapshot.
  Status ScanData(uint32_t disk, View view,
                  const std::function<Status(uint64_t block, const char* data)>& fn);

  // Points.
  // Appends the marker and syncs with writes held (the write lock), then
  // indexes the point. point->hold_ns: how long writes were held.
  Status CreatePoint(const std::string& group, const std::string& kind, const std::string& label,
                     Point* point);
  std::vector<Point> ListPoints(const std::string& group) const;  // "" = all
  // Resolves a point spec for a disk: an id, a label, latest, latest-app,
  // latest-crash, @RFC3339 or #seq. `description` says what was chosen.
  Status ResolveView(const Disk& disk, std::string_view spec, View* view,
                     std::string* description) const;
  // The same for a group (its disks share points and branches).
  Status ResolveGroupView(const std::string& group, std::string_view spec, View* view,
                          std::string* description) const;
  // The newest seq written at or before time t (ns since epoch).
  Status SeqAtTime(uint64_t t_ns, uint64_t* seq) const;

  // Branches (made by Failover below).
  Status GetBranch(uint32_t id, Branch* branch) const;

  // Failover and failback states (vault_failover.cc). Each change is one
  // catalog transaction, O(1) in disk size: it happens whole or not at all.
  std::vector<Branch> ListBranches() const;  // without cleaned-up ones
  Status FindBranch(const std::string& name, Branch* branch) const;
  // OK if disk takes writes on branch; ReadOnly naming why if not.
  Status CheckWritable(uint32_t disk, uint32_t branch) const;
  // A writable clone of the group's disks at `from` (a view on the group's
  // active branch chain). test: a test branch, nothing else changes.
  // Otherwise it becomes the group's active copy (protected -> failed-over)
  // and the old active branch is closed. An empty name picks one.
  Status Failover(const std::string& group, View from, const std::string& name, bool test,
                  Branch* branch);
  Status CleanupBranch(const std::string& name, Branch* branch);  // test branches only
  Status Reprotect(const std::string& group);                     // failed-over -> reprotected
  // Failback reached (active branch, seq): a new primary forked there
  // becomes the group's active branch (reprotected -> protected).
  Status FinishFailback(const std::string& group, uint64_t seq, Branch* new_primary);
  // The blocks of disk whose versions differ between views a and b,
  // sorted: the change log of the branch levels the chains do not share,
  // each candidate confirmed with one probe per level. O(changed blocks).
  Status DiffBlocks(uint32_t disk, View a, View b, std::vector<uint64_t>* blocks);

  // Replication, target side (vault_replica.cc). A replica group follows
  // one source vault's group of the same name; its disks have the
  // source's names and sizes.
  // Creates the group and any missing disk, or checks that the group
  // follows source_vault; takes the policy's retention and intervals.
  // reverse_fork_seq (not null): the source is this vault's own group,
  // failed over at the source and replicated back (after reprotect): its
  // writes since the fork, which stands for this vault's seq
  // *reverse_fork_seq, go to a new branch forked there, which becomes the
  // group's active branch (state reprotected: `failback` from here, or
  // FinishFailback, brings it home).
  Status SetUpReplicaGroup(const std::string& source_vault, const Group& policy,
                           const std::vector<Disk>& disks, const uint64_t* reverse_fork_seq = nullptr);
  // NotFound if nothing of (source_vault, group) was ever applied here.
  Status GetLink(const std::string& source_vault, const std::string& group,
                 ReplicaLink* link) const;
  std::vector<ReplicaLink> ListLinks() const;
  // Appends the calls (a seq each, in order) and the link state `after`
  // as one unit (kBatch, closed by a kLink record), syncs, indexes. A
  // crash before the sync leaves none of it. Refused unless the group is
  // a protected replica of after.source_vault.
  Status ApplyReplicaBatch(const std::vector<ReplicaCall>& calls, const ReplicaLink& after);
  // A source point, made here at the current state of its group (the
  // batch that ended at its seq was the last applied). Idempotent: a
  // point whose source id is already here is left alone.
  Status AddReplicaPoint(const Point& source, Point* out);
  // The newest source point id among the group's points (0: none).
  uint64_t NewestSourcePoint(const std::string& group) const;

  // Replication, source side.
  // Syncs the journal; *seq and *pos: the newest seq and the journal end
  // before the sync (everything up to them is durable now).
  Status DurableMark(uint64_t* seq, journal::JournalPos* pos);
  Status GetReplication(const std::string& group, Replication* row) const;  // NotFound
  std::vector<Replication> ListReplications() const;
  Status PutReplication(const Replication& row);
  // How far a replicated group's target is behind, from its Replication
  // row and the change log (after flushing the index): the group's bytes
  // written on its active branch after the acknowledged seq, and the
  // time of the oldest of them. NotFound if the group never replicated.
  struct ReplicationLag {
    Replication row;
    uint64_t bytes_behind = 0;
    uint64_t behind_since_ns = 0;  // the oldest write not yet acknowledged (0: none)
    uint64_t lag_ns = 0;           // now - behind_since_ns (0 when caught up)
  };
  Status GetReplicationLag(const std::string& group, ReplicationLag* lag);

  // Writes in-memory index entries to LMDB (after syncing the journal).
  Status FlushIndex();
  // Has the background flusher flush the index now, off the caller's
  // thread, if at least min_entries versions are pending and no flush
  // runs. For bulk writers (an import): many smaller flushes overlap
  // their writes, where the one at the end would be a tail nobody overlaps.
  void RequestIndexFlush(size_t min_entries);
  Status Stats(VaultStats* stats);
  uint64_t CatalogFileBytes() const;  // the LMDB file's allocated bytes
  // Bytes compaction and defragmentation may copy now: the file system's
  // free space less two segments' worth (left for writes and the index).
  uint64_t CopyRoom() const;

  // ---- The policies' interface ----
  // Policies over the engine (catalog/job_log.h, catalog/plan_store.h) own
  // catalog tables of their own and reach the vault only through these.
  //
  // CommitRows runs fn under the write lock in one durable catalog
  // transaction (LMDB commit + sync); fn gets a copy of the vault's meta
  // row and sets meta_changed if it changed it (written with the rows, kept
  // if the transaction commits). Pins::kMayPin: the rows may pin a view (a
  // job's checkpoint), so a compaction pass in flight looks again.
  enum class Pins { kNo, kMayPin };
  Status CommitRows(Pins pins, const std::function<Status(RowCommit&)>& fn);
  // A copy of the meta row, under the write lock (meta() is for the fields
  // fixed at open: id, block size).
  VaultMeta Meta() const;
  Catalog& catalog() { return *catalog_; }
  journal::Journal& journal() { return *journal_; }
  // Reads and checks the record a block version points at.
  Status ReadBlock(uint32_t disk, uint64_t block, const FoundBlock& found, char* out);
  BranchChain ChainFor(View view) const;

 private:
  Vault(std::string dir, const OpenOptions& options);
  static Status Lock(const std::string& dir, int* fd);
  Status LoadRows();
  Status UpgradeFormat();
  Status WritableLocked(const Disk& disk, uint32_t branch) const;  // rows_mu_ held
  Status PutGroupAndBranches(const Group* group, const std::vector<Branch>& branches);
  Status Recover();
  // Unwraps the data key of an encrypted vault and bumps the seal epoch
  // durably (vault_key.cc). Before any journal read.
  Status UnlockDataKey();
  Status IndexRecord(const journal::RecordHeader& h, const std::string& payload,
                     const journal::RecordLocation& loc);
  // Index flushes (catalog/vault_index_flush.cc). FlushIndexLocked waits
  // out a background flush first (letting go of write_mu_ meanwhile).
  Status FlushIndexLocked();
  Status NoteIndexGrowthLocked();
  void StartIndexFlusher();
  void StopIndexFlusher();
  void IndexFlusherLoop();
  Status FlushIndexInBackground(std::unique_lock<std::mutex>& l);
  // `full` holds the encoded whole blocks of the request, from block
  // `first_full` on; partial blocks are merged and encoded here.
  // The branch Write goes to; the checks of a write before it is encoded.
  Status ActiveBranch(uint32_t disk, uint32_t* branch) const;
  Status CheckWrite(uint32_t disk, uint32_t branch, uint64_t offset, size_t n) const;
  // Takes write_mu_, checks the branch again, WriteLocked.
  Status AppendEncoded(uint32_t disk, uint32_t branch, uint64_t offset, const char* data,
                       size_t n, const journal::EncodedBlock* full, uint64_t first_full,
                       size_t full_count);
  Status WriteLocked(uint32_t disk, uint32_t branch, uint64_t offset, const char* data, size_t n,
                     const journal::EncodedBlock* full, uint64_t first_full, size_t full_count);
  uint64_t NextTimeLocked();
  void NoteTimeLocked(uint64_t time_ns, uint64_t seq);
  Status PutRowDurably(const std::function<Status(Txn&)>& fn);
  // The branch a failover replicated back lands on (vault_replica.cc).
  Status SetUpReverseBranch(const std::string& source_vault, const std::string& group,
                            uint64_t fork_seq);
  // Appends a point marker for p (id, seq and time filled here unless
  // p->time_ns is set) and syncs. write_mu_ held.
  Status AppendPointLocked(Point* p);
  // Replay of a kLink record: the batch before it is whole.
  Status IndexLinkRecord(const journal::RecordHeader& h, const std::string& payload,
                         const journal::RecordLocation& loc);
  // Expires points older than their window at `now`, or than cut_ns.
  Status ExpirePointsAt(uint64_t now, uint64_t cut_ns, std::vector<Point>* expired);
  // A compaction pass's rules with every window starting at cut_ns or
  // later (0: the groups' own windows). vault_compaction.cc.
  Status PlanRetention(uint64_t now, uint64_t cut_ns, RetentionPlan* plan);
  // ReadOnly-style refusal if seq is older than the group's horizon. rows_mu_ held.
  Status CheckHorizonLocked(const std::string& group, uint64_t seq) const;
  // Read's checks: the disk and branch exist, the view is not reclaimed,
  // the range lies within the disk.
  Status CheckRead(uint32_t disk, View view, uint64_t offset, size_t n) const;
  // Compaction steps (vault_compaction.cc).
  Status RetireSegments(const std::vector<uint32_t>& segments, uint64_t* bytes);
  // Copying records forward (vault_copy_forward.cc), compact_mu_ held.
  // Appends the records of `moves` (in that order, kCopy added), at most
  // rate_bytes_per_s, then syncs; copies[i] is moves[i]'s new place.
  Status CopyForward(const std::vector<KeyedVersion>& moves, uint64_t rate_bytes_per_s,
                     std::vector<journal::RecordLocation>* copies, uint64_t* copied_bytes);
  // In txn: each moved version now names its copy; Corruption if one
  // changed since it was picked.
  Status PointAtCopies(Txn& txn, const std::vector<KeyedVersion>& moves,
                       const std::vector<journal::RecordLocation>& copies);

  const std::string dir_;
  OpenOptions options_;
  std::function<uint64_t()> clock_;
  int lock_fd_ = -1;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::BlockEncoder> encoder_;
  journal::DataKey data_key_;                        // encrypted vaults only
  std::shared_ptr<journal::PayloadSealer> sealer_;  // null: not encrypted
  std::vector<std::string> recovery_notes_;

  mutable std::mutex write_mu_;  // serializes writes, points, row changes, flushes
  VaultMeta meta_;
  uint64_t last_seq_ = 0;
  uint64_t last_time_ns_ = 0;
  uint64_t last_timeline_ms_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> pending_timeline_;  // (ms, first seq)
  std::vector<Point> pending_points_;
  // Replay: the blocks of a write call not yet seen whole (kContinued).
  std::vector<std::pair<BlockKey, BlockVersion>> replay_call_;
  void DropTornCallLocked();
  // Replay: the records of a replicated batch whose kLink is not yet seen.
  std::vector<std::pair<BlockKey, BlockVersion>> replay_batch_;
  void DropTornBatchLocked();
  // Replica links by "SOURCEVAULT/GROUP" (write_mu_); written with the index.
  std::map<std::string, ReplicaLink> links_;
  Status replica_failed_;  // a batch that failed half-way: no more until reopened
  // The background index flusher; its flags are guarded by write_mu_.
  std::condition_variable flush_cv_;
  bool flush_wanted_ = false;
  size_t flush_floor_ = SIZE_MAX;  // a RequestIndexFlush's min_entries, until taken
  bool bg_flushing_ = false;
  bool stop_flusher_ = false;
  Status bg_flush_status_;  // a failed background flush, for the next writer
  std::vector<std::pair<uint64_t, uint64_t>> flushing_timeline_;  // taken by it
  std::thread flusher_;
  // Bumped (under write_mu_) by every change that can add a pin: a new
  // branch, a policy change, a job. A compaction pass that saw another
  // generation than the one at its switch gives up.
  uint64_t pin_generation_ = 0;
  std::mutex compact_mu_;  // one compaction pass at a time
  mutable std::shared_mutex segment_readers_mu_;  // see HoldSegments

  mutable std::shared_mutex rows_mu_;  // guards the row caches below
  std::map<std::string, Group> groups_;
  std::map<std::string, Disk> disks_by_name_;
  std::map<uint32_t, Disk> disks_;
  std::map<uint32_t, Branch> branches_;
  std::map<uint64_t, Point> points_;
};

}  // namespace rpfs::catalog
