#include "tools/plans/plan_state.h"

#include "catalog/plan_store.h"

#include <map>
#include <set>

namespace rpfs::tools {
namespace {

// The group states of catalog/rows.h in the plan's words.
std::string PlanWordFor(const std::string& group_state) {
  if (group_state == "protected") return kPlanProtected;
  if (group_state == "failed-over") return kPlanFailedOver;
  if (group_state == "reprotected") return kPlanReprotected;
  return group_state;
}

bool Protectedish(const std::string& state) {
  return state == kPlanProtected || state == kPlanFailbackDone;
}

}  // namespace

std::string StateOfGroups(const catalog::Vault& vault, const std::vector<catalog::PlanStep>& steps) {
  std::set<std::string> words;
  std::string each;
  for (const catalog::PlanStep& step : steps) {
    for (const std::string& g : step.groups) {
      catalog::Group row;
      std::string state = vault.GetGroup(g, &row).ok() ? row.state : "deleted";
      words.insert(PlanWordFor(state));
      each += (each.empty() ? "" : ", ") + g + " " + state;
    }
  }
  if (words.size() == 1) return *words.begin();
  return "mixed (" + each + ")";
}

bool RunUnfinished(const catalog::PlanRun& run) {
  return run.status == "running" || run.status == "failed" || run.status == "waiting" ||
         run.status == "interrupted";
}

Status CheckOperationAllowed(const catalog::Vault& vault, const catalog::Plan& plan,
                             const std::string& operation) {
  const std::string& state = plan.state;
  auto refuse = [&](const std::string& needs) {
    return Status::InvalidArgument("plan " + plan.name + " is " + state + ": " + operation +
                                   " needs it " + needs);
  };
  if (operation == "test-failover" || operation == "failover") {
    if (!Protectedish(state)) {
      const bool branches_left = state == kPlanTestDone || state == kPlanTestCancelled;
      return refuse(branches_left ? "protected (run plan cleanup " + plan.name + " first)" : "protected");
    }
  } else if (operation == "cleanup") {
    if (state != kPlanTestDone && state != kPlanTestCancelled) return refuse("after a test failover");
  } else if (operation == "reprotect") {
    if (state != kPlanFailedOver) return refuse("failed over");
  } else if (operation == "failback") {
    if (state != kPlanReprotected) return refuse("reprotected");
  } else {
    return Status::InvalidArgument("unknown plan operation '" + operation + "'");
  }
  // The groups must agree: a per-group command may have moved one.
  std::string groups = StateOfGroups(vault, plan.steps);
  std::string expected = operation == "reprotect"  ? kPlanFailedOver
                         : operation == "failback" ? kPlanReprotected
                         : operation == "failover" ? kPlanProtected
                                                   : "";
  if (!expected.empty() && groups != expected) {
    return Status::InvalidArgument("plan " + plan.name + ": its groups are " + groups + ", not " +
                                   expected + " as " + operation + " needs");
  }
  return Status::OK();
}

Status CheckOtherPlans(catalog::Vault& vault, const catalog::Plan& plan) {
  std::set<std::string> mine;
  for (const catalog::PlanStep& s : plan.steps) mine.insert(s.groups.begin(), s.groups.end());
  for (const catalog::Plan& other : catalog::PlanStore(vault).List()) {
    if (other.name == plan.name) continue;
    bool busy = RunUnfinished(other.run) || !Protectedish(other.state);
    if (!busy) continue;
    for (const catalog::PlanStep& s : other.steps) {
      for (const std::string& g : s.groups) {
        if (!mine.count(g)) continue;
        std::string why = RunUnfinished(other.run)
                              ? "has an unfinished " + other.run.operation + " run"
                              : "is " + other.state;
        return Status::InvalidArgument("plan " + plan.name + ": group " + g +
                                       " is also in plan " + other.name + ", which " + why);
      }
    }
  }
  return Status::OK();
}

std::string StateAfter(const std::string& operation) {
  if (operation == "test-failover") return kPlanTestDone;
  if (operation == "cleanup") return kPlanProtected;
  if (operation == "failover") return kPlanFailedOver;
  if (operation == "reprotect") return kPlanReprotected;
  if (operation == "failback") return kPlanFailbackDone;
  return kPlanProtected;
}

}  // namespace rpfs::tools
