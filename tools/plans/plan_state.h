// A recovery plan's states and which operation each allows:
//
//   protected ──test-failover──> test failover complete ──cleanup──> protected
//   protected ──failover──> failed over ──reprotect──> reprotected
//             ──failback──> failback complete (= protected again)
//
// A run that is unfinished (running, failed, waiting, interrupted) allows
// only `plan resume` and `plan cancel`. A cancelled test failover that made
// branches leaves "test failover cancelled" (cleanup removes them); any
// other cancelled run leaves the state
// its groups are in: uniform ("failed over"), or "mixed (db failed-over,
// web protected)", which no plan operation accepts until the groups agree
// again (per-group commands mend them). The groups' own states are the
// truth; the plan's state is checked against them before every run.
#pragma once

#include <string>
#include <vector>

#include "catalog/plan_rows.h"
#include "catalog/vault.h"

namespace rpfs::tools {

inline constexpr const char* kPlanProtected = "protected";
inline constexpr const char* kPlanTestDone = "test failover complete";
inline constexpr const char* kPlanTestCancelled = "test failover cancelled";  // cleanup only
inline constexpr const char* kPlanFailedOver = "failed over";
inline constexpr const char* kPlanReprotected = "reprotected";
inline constexpr const char* kPlanFailbackDone = "failback complete";

// The plan state the groups' own states amount to: protected, failed
// over, reprotected, or "mixed (...)" naming each group's state.
std::string StateOfGroups(const catalog::Vault& vault, const std::vector<catalog::PlanStep>& steps);

// True while a run needs resume or cancel before anything else.
bool RunUnfinished(const catalog::PlanRun& run);

// OK if `operation` may start from the plan's state (and its groups').
Status CheckOperationAllowed(const catalog::Vault& vault, const catalog::Plan& plan,
                             const std::string& operation);

// Refuses when a group of `plan` is also in another plan that has an
// unfinished run or is not protected: the two would fight over it.
Status CheckOtherPlans(catalog::Vault& vault, const catalog::Plan& plan);

// The state a finished run of `operation` leaves.
std::string StateAfter(const std::string& operation);

}  // namespace rpfs::tools
