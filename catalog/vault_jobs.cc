// Jobs: one catalog row per long operation, written durably at its start,
// at checkpoints and at its end, so `rpfs jobs` tells the truth after a
// crash: a job still "running" at the next open was cut off.
#include "catalog/vault.h"

namespace rpfs::catalog {

Status Vault::StartJob(Job* job) {
  std::lock_guard<std::mutex> l(write_mu_);
  ++pin_generation_;  // a failback pins its view
  VaultMeta m = meta_;
  job->id = m.next_job_id++;
  job->state = "running";
  job->start_ns = clock_();
  job->end_ns = 0;
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->jobs, BigEndianKey64(job->id), *job));
    return catalog_->PutMeta(txn, m);
  }));
  meta_.next_job_id = m.next_job_id;
  return Status::OK();
}

Status Vault::UpdateJob(const Job& job) {
  std::lock_guard<std::mutex> l(write_mu_);
  ++pin_generation_;  // a resumed failback pins its view again
  return PutRowDurably(
      [&](Txn& txn) { return catalog_->PutRow(txn, catalog_->jobs, BigEndianKey64(job.id), job); });
}

Status Vault::FinishJob(Job* job, const Status& result) {
  job->state = result.ok() ? "succeeded" : "failed";
  if (!result.ok()) job->details = result.ToString();
  job->end_ns = clock_();
  return UpdateJob(*job);
}

std::vector<Job> Vault::ListJobs() const {
  std::vector<Job> jobs;
  if (!catalog_->ListRows(catalog_->jobs, &jobs).ok()) jobs.clear();
  return jobs;
}

Status Vault::InterruptRunningJobs() {
  // Exactly one process opens a vault: any job still running was its
  // predecessor's.
  std::vector<Job> jobs;
  RPFS_RETURN_IF_ERROR(catalog_->ListRows(catalog_->jobs, &jobs));
  std::vector<Job> cut;
  for (Job& j : jobs) {
    if (j.state != "running") continue;
    j.state = "interrupted";
    cut.push_back(j);
  }
  if (cut.empty()) return Status::OK();
  return PutRowDurably([&](Txn& txn) {
    for (const Job& j : cut) {
      RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->jobs, BigEndianKey64(j.id), j));
    }
    return Status::OK();
  });
}

}  // namespace rpfs::catalog
