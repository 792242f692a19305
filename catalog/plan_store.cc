#include "catalog/plan_store.h"

#include "catalog/catalog.h"
#include "catalog/job_log.h"
#include "catalog/vault.h"

namespace rpfs::catalog {

Status PlanStore::Put(const Plan& plan, const Job* job) {
  return vault_.CommitRows(Vault::Pins::kNo, [&](RowCommit& c) {
    Catalog& catalog = vault_.catalog();
    RPFS_RETURN_IF_ERROR(catalog.PutRow(c.txn, catalog.plans, plan.name, plan));
    if (job == nullptr) return Status::OK();
    return JobLog::Put(catalog, c.txn, *job);
  });
}

Status PlanStore::Get(const std::string& name, Plan* plan) const {
  Catalog& catalog = vault_.catalog();
  Status s = catalog.env().View(
      [&](Txn& txn) { return catalog.GetRow(txn, catalog.plans, name, plan); });
  if (s.IsNotFound()) return Status::NotFound("unknown plan '" + name + "'");
  return s;
}

std::vector<Plan> PlanStore::List() const {
  Catalog& catalog = vault_.catalog();
  std::vector<Plan> plans;
  if (!catalog.ListRows(catalog.plans, &plans).ok()) plans.clear();
  return plans;
}

Status PlanStore::Delete(const std::string& name) {
  return vault_.CommitRows(Vault::Pins::kNo,
                           [&](RowCommit& c) { return c.txn.Del(vault_.catalog().plans, name); });
}

}  // namespace rpfs::catalog
