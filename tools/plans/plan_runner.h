// Runs a recovery plan (catalog/plan_rows.h) step by step: for each step
// its manual action (the run waits until `plan resume`), its pre scripts,
// the groups' own operation (issue 5's failover, test failover, cleanup,
// reprotect, failback) for every group of the step, its post scripts.
//
// Crash safety: the plan row records the run's position (step, phase,
// next script, groups done) durably after every script and every group,
// together with the job row, in one catalog transaction. Group operations
// are made idempotent by naming their branch before making it and by the
// group's own state, so a run killed between an operation and its record
// does not repeat it on resume; a script that was running when the run
// died runs again (it did not finish).
//
// Every input is checked before anything changes: the plan's and the
// groups' states, other plans holding the same groups, the point for
// every group, failback targets, branch names.
//
// One run per plan at a time in a process (the registry of live runs);
// across processes the vault lock already makes it one.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "catalog/vault.h"

namespace rpfs::tools {

struct PlanRunOptions {
  std::string operation;  // test-failover, failover, cleanup, reprotect, failback
  std::string point;      // (test-)failover: a point spec; "" = latest
  bool fence_source = false;
  std::string name;  // (test-)failover: branch names are NAME-GROUP
  std::map<std::string, std::string> targets;  // failback: VM/DISK -> file
  bool verify = false;                          // failback --verify
};

// What the caller's process provides.
struct PlanHost {
  std::string vault_dir;   // absolute
  std::string mountpoint;  // "" when the vault is not mounted here
  std::string cwd;         // scripts run here ("": this process's)
  std::function<bool()> cancelled;                 // the client went away
  std::function<void(const std::string&)> print;   // progress and script output
};

// How a run ended.
struct PlanOutcome {
  std::string status;  // done, waiting, failed, interrupted, cancelled
  std::string state;   // the plan's state afterwards, as plan show prints it
  uint64_t job_id = 0;
};

Status StartPlanRun(catalog::Vault& vault, const std::string& plan, const PlanRunOptions& options,
                    const PlanHost& host, PlanOutcome* outcome);
// Continues a failed, waiting or interrupted run. skip_failed: pass over
// the script or group that failed instead of retrying it.
Status ResumePlanRun(catalog::Vault& vault, const std::string& plan, bool skip_failed,
                     const PlanHost& host, PlanOutcome* outcome);
// Ends an unfinished run where it stands (a live one at its next check).
Status CancelPlanRun(catalog::Vault& vault, const std::string& plan, PlanOutcome* outcome);

// The state to show: the stored one, or the unfinished run's
// ("running failover at step 2", "failed at step 2 (...)", "waiting at
// step 1: TEXT", "interrupted at step 2 (...)").
std::string PlanDisplayState(const catalog::Plan& plan);

}  // namespace rpfs::tools
