#include "catalog/job_log.h"

#include "catalog/catalog.h"
#include "catalog/vault.h"

namespace rpfs::catalog {

Status JobLog::Put(Catalog& catalog, Txn& txn, const Job& job) {
  return catalog.PutRow(txn, catalog.jobs, BigEndianKey64(job.id), job);
}

Status JobLog::Start(Job* job) {
  return vault_.CommitRows(Vault::Pins::kMayPin, [&](RowCommit& c) {
    job->id = c.meta.next_job_id++;
    c.meta_changed = true;
    job->state = "running";
    job->start_ns = vault_.Now();
    job->end_ns = 0;
    return Put(vault_.catalog(), c.txn, *job);
  });
}

Status JobLog::Update(const Job& job) {
  // A resumed failback pins its view again.
  return vault_.CommitRows(Vault::Pins::kMayPin,
                           [&](RowCommit& c) { return Put(vault_.catalog(), c.txn, job); });
}

Status JobLog::Finish(Job* job, const Status& result) {
  job->state = result.ok() ? "succeeded" : "failed";
  if (!result.ok()) job->details = result.ToString();
  job->end_ns = vault_.Now();
  return Update(*job);
}

std::vector<Job> JobLog::List() const {
  Catalog& catalog = vault_.catalog();
  std::vector<Job> jobs;
  if (!catalog.ListRows(catalog.jobs, &jobs).ok()) jobs.clear();
  return jobs;
}

uint64_t JobLog::NextId() const { return vault_.Meta().next_job_id; }

Status JobLog::InterruptRunning() {
  std::vector<Job> cut;
  for (Job& j : List()) {
    if (j.state != "running") continue;
    j.state = "interrupted";
    cut.push_back(j);
  }
  if (cut.empty()) return Status::OK();
  return vault_.CommitRows(Vault::Pins::kNo, [&](RowCommit& c) {
    for (const Job& j : cut) RPFS_RETURN_IF_ERROR(Put(vault_.catalog(), c.txn, j));
    return Status::OK();
  });
}

}  // namespace rpfs::catalog
