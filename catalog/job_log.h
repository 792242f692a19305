// JobLog: the record of long operations (`rpfs jobs`). One catalog row per
// job in the `jobs` table, written durably at its start, at checkpoints and
// at its end, so the log tells the truth after a crash: a job still
// "running" when the vault is next opened was cut off (InterruptRunning,
// run by Vault::Open).
//
// A policy over the engine: it owns the jobs table and reaches the vault
// only through Vault::CommitRows and Vault::catalog(). A job's checkpoint
// may pin a view (a failback's point), so every write tells compaction to
// look again. Thread-safe (the vault serializes the writes); cheap to make,
// one per use: JobLog(vault).Start(&job).
#pragma once

#include <cstdint>
#include <vector>

#include "catalog/rows.h"
#include "journal/status.h"

namespace rpfs::catalog {

class Catalog;
class Txn;
class Vault;

class JobLog {
 public:
  explicit JobLog(Vault& vault) : vault_(vault) {}

  // Assigns the job its id and start time; state "running".
  Status Start(Job* job);
  Status Update(const Job& job);
  // "succeeded" if result is ok, else "failed" with result's message.
  Status Finish(Job* job, const Status& result);
  std::vector<Job> List() const;  // oldest first
  uint64_t NextId() const;        // the id the next Start gives

  // Marks every job still "running" as "interrupted" (at open: exactly one
  // process opens a vault, so such a job was its predecessor's).
  Status InterruptRunning();

  // Writes a job row within a transaction of another table's owner (a
  // plan run and its job go to the catalog together).
  static Status Put(Catalog& catalog, Txn& txn, const Job& job);

 private:
  Vault& vault_;
};

}  // namespace rpfs::catalog
