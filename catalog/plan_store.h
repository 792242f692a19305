// PlanStore: recovery plans (catalog/plan_rows.h), one row per plan in the
// `plans` table, with the state of its current run. A run's progress and
// its job row go to the catalog in one durable transaction, so what `plan
// show` and `rpfs jobs` say after a crash is the same story.
//
// A policy over the engine: it owns the plans table and reaches the vault
// only through Vault::CommitRows and Vault::catalog(). Thread-safe; cheap to
// make, one per use: PlanStore(vault).Get(name, &plan).
#pragma once

#include <string>
#include <vector>

#include "catalog/plan_rows.h"
#include "catalog/rows.h"
#include "journal/status.h"

namespace rpfs::catalog {

class Vault;

class PlanStore {
 public:
  explicit PlanStore(Vault& vault) : vault_(vault) {}

  // Writes the plan and, when given, its run's job row, in one durable transaction.
  Status Put(const Plan& plan, const Job* job);
  Status Get(const std::string& name, Plan* plan) const;  // NotFound "unknown plan 'NAME'"
  std::vector<Plan> List() const;
  Status Delete(const std::string& name);

 private:
  Vault& vault_;
};

}  // namespace rpfs::catalog
