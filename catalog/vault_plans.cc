// Recovery plan rows (catalog/plan_rows.h). A plan run's progress and its
// job row go to the catalog in one durable transaction, so what `plan
// show` and `rpfs jobs` say after a crash is the same story.
#include "catalog/vault.h"

namespace rpfs::catalog {

Status Vault::PutPlan(const Plan& plan, const Job* job) {
  std::lock_guard<std::mutex> l(write_mu_);
  return PutRowDurably([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->plans, plan.name, plan));
    if (job == nullptr) return Status::OK();
    return catalog_->PutRow(txn, catalog_->jobs, BigEndianKey64(job->id), *job);
  });
}

Status Vault::GetPlan(const std::string& name, Plan* plan) const {
  Status s = catalog_->env().View(
      [&](Txn& txn) { return catalog_->GetRow(txn, catalog_->plans, name, plan); });
  if (s.IsNotFound()) return Status::NotFound("unknown plan '" + name + "'");
  return s;
}

std::vector<Plan> Vault::ListPlans() const {
  std::vector<Plan> plans;
  if (!catalog_->ListRows(catalog_->plans, &plans).ok()) plans.clear();
  return plans;
}

Status Vault::DeletePlan(const std::string& name) {
  std::lock_guard<std::mutex> l(write_mu_);
  return PutRowDurably([&](Txn& txn) { return txn.Del(catalog_->plans, name); });
}

uint64_t Vault::NextJobId() const {
  std::lock_guard<std::mutex> l(write_mu_);
  return meta_.next_job_id;
}

}  // namespace rpfs::catalog
