// The catalog's rows: groups, disks, branches, points, jobs. Stored as
// JSON in their LMDB databases (small, rare, and readable with mdb_dump);
// only the block map and the timeline are binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rpfs::catalog {

// A protection group: a consistency group of disks and its policy.
struct Group {
  std::string name;
  uint64_t retention_s = 72 * 3600;
  uint64_t crash_every_s = 5 * 60;
  uint64_t app_every_s = 4 * 3600;
  uint64_t rpo_s = 30 * 60;
  std::string freeze_hook;
  std::string thaw_hook;
  uint32_t active_branch = 1;  // where the group's disks take writes
  // protected -> (failover) failed-over -> (reprotect) reprotected ->
  // (failback) protected. While failed over, active_branch is the failover
  // branch and its parent is the timeline the on-premises copy follows.
  std::string state = "protected";
  uint64_t created_ns = 0;
  // Compaction reclaimed the history before this seq: views older than it
  // are refused (they would read newer or missing blocks).
  uint64_t horizon_seq = 0;
  uint64_t horizon_ns = 0;  // the instant horizon_seq stands for
  // At the last compaction pass: stored bytes of the newest state of the
  // group's disks on every branch (what a drive must hold besides history).
  uint64_t latest_bytes = 0;
  // A replica: the id (hex) of the vault whose group this one follows,
  // and the branch replication writes to (1 here; after a failover was
  // replicated back, the branch it came back on). That branch takes writes
  // only from replication (tools/replication/replication_target.cc) while it is the
  // active one; test failover works as anywhere.
  std::string replica_of;
  uint32_t replica_branch = 0;
};

struct Disk {
  uint32_t id = 0;
  std::string name;  // "VM/DISK"
  uint64_t size = 0;  // bytes, a multiple of the block size
  std::string group;
  uint64_t created_ns = 0;
};

// A timeline of writes. Branch 1 is the primary, the root of every chain.
// A disk takes writes on its group's active branch and on the group's
// test branches; every other branch is closed (EROFS) but stays readable.
struct Branch {
  uint32_t id = 0;
  std::string name;
  uint32_t parent = 0;    // 0: none
  uint64_t fork_seq = 0;  // the parent's state this branch starts from
  bool read_only = false;
  uint64_t created_ns = 0;
  std::string group;             // "" for branch 1 (every group's first primary)
  std::string kind = "primary";  // primary, test, failover
  uint64_t deleted_ns = 0;       // cleaned up: hidden, its data garbage
  // A replica's failover branch: the seq of the source vault its fork
  // stands for (0: unknown), what replicating it back starts from.
  uint64_t source_seq = 0;
};

struct Point {
  uint64_t id = 0;
  std::string group;
  uint64_t seq = 0;  // the view includes every write with seq <= this
  std::string kind = "crash";  // "crash" or "app"
  std::string label;
  uint32_t branch = 1;
  uint64_t time_ns = 0;
  uint64_t hold_ns = 0;  // app points: how long writes were held
  uint64_t source_point = 0;  // a replica's point: its id in the source vault
  uint64_t source_seq = 0;    // and its seq there
};

// Target side of replication: what of a source vault's group is applied
// here. Kept in the kLink record that closes each batch (the truth) and
// in the "links" database (a copy, written with the index).
struct ReplicaLink {
  std::string source_vault;  // hex id
  std::string group;
  uint64_t applied_seq = 0;      // every source write with seq <= this is here
  uint64_t applied_local_seq = 0;  // this vault's seq once the batch that got there was in
  uint64_t applied_time_ns = 0;  // the source's time of that write
  uint64_t records = 0;          // block records applied, over the link's life
  uint64_t bytes = 0;            // their logical bytes
  std::string chain;             // sha256 chain over them (tools/replication/replication_wire.h)
  // A catch-up step under way: the blocks that differ between applied_seq
  // and step_to, sent in (disk, block) order; those before (step_disk,
  // step_block) are here. 0: none.
  uint64_t step_to = 0;
  uint64_t step_time_ns = 0;
  uint32_t step_disk = 0;
  uint64_t step_block = 0;
  uint64_t updated_ns = 0;
};

// Source side: where a group's replication stands, as last acknowledged.
// A hint for resuming and for lag figures; the target's link is the truth.
struct Replication {
  std::string group;
  std::string target;        // address given to replicate --to
  std::string target_vault;  // hex id
  uint64_t acked_seq = 0;
  uint64_t acked_time_ns = 0;
  // The journal position to follow the group's writes from (just after
  // acked_seq's records); compaction leaves the segments from here on alone.
  uint32_t follow_segment = 0;  // 0: none (a catch-up step comes first)
  uint64_t follow_offset = 0;
  // A catch-up under way: it brings the target to catchup_seq, then the
  // journal is followed from catchup_segment/offset.
  uint64_t catchup_seq = 0;
  uint32_t catchup_segment = 0;
  uint64_t catchup_offset = 0;
  uint64_t updated_ns = 0;
};

// A long operation: failover, test-failover, cleanup, reprotect,
// failback, import, export, replicate, plan-OPERATION (a plan run). A job still "running" when the vault is next
// opened belonged to a process that died: it becomes "interrupted".
struct Job {
  uint64_t id = 0;
  std::string kind;
  std::string group;
  std::string state = "running";  // running, succeeded, failed, interrupted
  std::string details;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint64_t progress_done = 0;   // bytes
  uint64_t progress_total = 0;
  nlohmann::json checkpoint;    // what a rerun needs to continue (failback)
  std::string plan;                // a plan run's plan (kind plan-OPERATION)
  std::vector<std::string> lines;  // a plan run: one line per step
  std::string output;              // the last 64 KiB of a failed plan script
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Group, name, retention_s, crash_every_s,
                                                app_every_s, rpo_s, freeze_hook, thaw_hook,
                                                active_branch, state, created_ns, horizon_seq,
                                                horizon_ns, latest_bytes, replica_of,
                                                replica_branch)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Disk, id, name, size, group, created_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Branch, id, name, parent, fork_seq, read_only,
                                                created_ns, group, kind, deleted_ns, source_seq)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Point, id, group, seq, kind, label, branch,
                                                time_ns, hold_ns, source_point, source_seq)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ReplicaLink, source_vault, group, applied_seq,
                                                applied_local_seq, applied_time_ns, records, bytes, chain, step_to,
                                                step_time_ns, step_disk, step_block, updated_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Replication, group, target, target_vault,
                                                acked_seq, acked_time_ns, follow_segment,
                                                follow_offset, catchup_seq, catchup_segment,
                                                catchup_offset, updated_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Job, id, kind, group, state, details, start_ns,
                                                end_ns, progress_done, progress_total, checkpoint,
                                                plan, lines, output)

}  // namespace rpfs::catalog
