// The catalog's rows: groups, disks, branches, points, jobs. Stored as
// JSON in their LMDB databases (small, rare, and readable with mdb_dump);
// only the block map and the timeline are binary.
#pragma once

#include <cstdint>
#include <string>

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
};

// A long operation: failover, test-failover, cleanup, reprotect,
// failback, import, export. A job still "running" when the vault is next
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
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Group, name, retention_s, crash_every_s,
                                                app_every_s, rpo_s, freeze_hook, thaw_hook,
                                                active_branch, state, created_ns, horizon_seq,
                                                horizon_ns, latest_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Disk, id, name, size, group, created_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Branch, id, name, parent, fork_seq, read_only,
                                                created_ns, group, kind, deleted_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Point, id, group, seq, kind, label, branch,
                                                time_ns, hold_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Job, id, kind, group, state, details, start_ns,
                                                end_ns, progress_done, progress_total, checkpoint)

}  // namespace rpfs::catalog
