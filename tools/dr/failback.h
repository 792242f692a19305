// Failback (issue 5): make each on-premises file of a reprotected group
// byte-identical to the failover branch at a point, writing only the
// blocks that differ (tools/dr/failback_plan.h), then protect the group in
// the original direction again (Vault::FinishFailback).
//
// A job, resumable: the job row's checkpoint holds the point's seq, the
// targets and how far the copy got. Progress is made durable in order —
// target writes, the targets' fdatasync, then the checkpoint — so a rerun
// after a kill redoes at most one checkpoint interval, and rewriting
// blocks with the bytes they must hold is harmless.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "catalog/vault.h"

namespace rpfs::tools {

struct FailbackOptions {
  std::map<std::string, std::string> targets;  // VM/DISK -> on-prem file
  std::string point;       // "" = latest (or the unfinished job's point)
  bool verify = false;     // also compare every block and repair differences
  uint64_t max_rate = 0;   // bytes/s written, 0 = unlimited
  uint64_t checkpoint_bytes = 4ull << 20;  // redone at most after a kill
  // Called with (bytes done, bytes total) as the copy goes.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct FailbackResult {
  uint64_t job_id = 0;
  bool resumed = false;
  uint64_t seq = 0;             // the branch state the targets now hold
  std::string point;            // what the point spec chose
  uint64_t changed_blocks = 0;  // in the whole plan (not only this run)
  uint64_t data_bytes = 0;      // written by this run
  uint64_t metadata_bytes = 0;  // written by this run (sparse grain tables)
  uint64_t disk_bytes = 0;
  uint64_t verified_bytes = 0;
  uint64_t repaired_blocks = 0;
  std::string new_primary;      // the branch the group now writes to
};

Status RunFailback(catalog::Vault& vault, const std::string& group,
                   const FailbackOptions& options, FailbackResult* result);

}  // namespace rpfs::tools
