// The groups' side of a plan run: what each group of a new run will get
// (branch name, view), the group's own operation run so that repeating
// it after a crash does nothing twice, and the disks a script is shown.
#pragma once

#include <string>
#include <vector>

#include "catalog/plan_rows.h"
#include "catalog/vault.h"
#include "tools/plans/plan_runner.h"

namespace rpfs::tools {

// Fills run->groups (and run->common_seq) for a new run of `options`
// over `plan`, checking every input: points resolvable for every group,
// branch names free, failback targets naming exactly the plan's disks.
// `previous` is the plan's run before this one (cleanup takes its test
// branches). Changes nothing in the vault.
Status PrepareGroupRuns(catalog::Vault& vault, const catalog::Plan& plan,
                        const PlanRunOptions& options, uint64_t job_id, catalog::PlanRun* run);

// Runs run.operation for `group` unless it is already done (a branch of
// the recorded name exists, the group reached the state). *said: one
// line for the job and the operator.
Status RunGroupOperation(catalog::Vault& vault, const catalog::PlanRun& run,
                         const std::string& group, catalog::PlanGroupRun* record,
                         std::string* said);

// RPFS_DISKS for `groups` in `phase` (pre or post): a "VM/DISK=PATH" line
// per disk, PATH the descriptor a hypervisor would boot — under the mount
// when there is one, else relative to any mount of the vault.
std::string ScriptDisks(const catalog::Vault& vault, const catalog::PlanRun& run,
                        const std::vector<std::string>& groups, const std::string& phase,
                        const std::string& mountpoint);

}  // namespace rpfs::tools
