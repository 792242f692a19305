// Recovery plans (DESIGN.md §1): the plan as the operator wrote it, its
// state, and the progress of its current run. One JSON row per plan in
// the "plans" database, rewritten durably after every script and every
// group a run finishes (tools/plans/plan_runner.h), so a run killed at any
// moment resumes without repeating what it finished.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rpfs::catalog {

struct PlanStep {
  std::vector<std::string> groups;  // fail over together
  std::vector<std::string> pre;     // /bin/sh -c commands, before the groups
  std::vector<std::string> post;    // and after them
  std::string manual;               // "": none; else the run waits before the step
  uint64_t timeout_s = 0;           // per script; 0: none
};

// What a run did to one group.
struct PlanGroupRun {
  std::string branch;       // the branch made or used (named before it is made)
  std::string point;        // what the point spec chose for it
  uint64_t seq = 0;         // the state the branch starts from
  uint32_t view_branch = 0;  // on this branch (a point may be on an older one)
  bool done = false;
  bool skipped = false;     // resume --skip-failed passed over it
};

// The newest run of a plan. Its status says whether it needs anything:
// running (live, or interrupted if no process runs it), failed, waiting
// (a manual action), cancelled, done.
struct PlanRun {
  std::string operation;  // test-failover, failover, cleanup, reprotect, failback
  std::string status;     // "" before the first run
  uint64_t job_id = 0;    // the job of the newest invocation
  uint32_t step = 0;      // 1-based; the step not yet finished
  std::string phase;      // manual, pre, groups, post
  uint32_t script = 0;    // next script of the phase
  bool manual_done = false;  // the current step's manual action was confirmed
  std::string error;         // why it failed
  int script_exit = 0;       // the failed script's exit status
  std::string script_output;  // its last 64 KiB
  // Options of the run, kept for resume.
  std::string point_spec;
  uint64_t common_seq = 0;  // latest / latest-crash: every group at this seq
  bool fence_source = false;
  std::string name;  // branch name prefix
  std::map<std::string, std::string> targets;  // failback: VM/DISK -> file
  bool verify = false;
  std::map<std::string, PlanGroupRun> groups;
  std::vector<std::string> step_lines;  // one per step reached, as in the job
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

struct PlanStateChange {
  std::string state;
  uint64_t time_ns = 0;
  uint64_t job_id = 0;
};

struct Plan {
  std::string name;
  std::string file;  // where it was created from
  std::vector<PlanStep> steps;
  // protected, test failover complete, failed over, reprotected,
  // failback complete; a cancelled run leaves the state its groups are in.
  std::string state = "protected";
  std::vector<PlanStateChange> history;
  PlanRun run;
  uint64_t created_ns = 0;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlanStep, groups, pre, post, manual, timeout_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlanGroupRun, branch, point, seq, view_branch, done,
                                                skipped)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlanRun, operation, status, job_id, step, phase,
                                                script, manual_done, error, script_exit,
                                                script_output, point_spec, common_seq,
                                                fence_source, name, targets, verify, groups,
                                                step_lines, start_ns, end_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlanStateChange, state, time_ns, job_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Plan, name, file, steps, state, history, run,
                                                created_ns)

}  // namespace rpfs::catalog
