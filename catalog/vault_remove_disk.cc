// Vault::RemoveDisk: forgets a disk, e.g. one an import left half-written.
//
// Only the disk's row goes. Disk ids are never reused (meta_.next_disk_id
// only grows), so the block versions the disk wrote can never be read
// again by another disk: they are unreachable garbage, in the journal and
// the index, that retention compaction reclaims like any other version no
// point can reach. Nothing else names a disk: points and branches belong
// to groups.
#include "catalog/vault.h"

namespace rpfs::catalog {

Status Vault::RemoveDisk(const std::string& name) {
  std::lock_guard<std::mutex> l(write_mu_);
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    if (!disks_by_name_.count(name)) return Status::NotFound("unknown disk '" + name + "'");
  }
  RPFS_RETURN_IF_ERROR(
      PutRowDurably([&](Txn& txn) { return txn.Del(catalog_->disks, name); }));
  std::unique_lock<std::shared_mutex> rl(rows_mu_);
  auto it = disks_by_name_.find(name);
  disks_.erase(it->second.id);
  disks_by_name_.erase(it);
  return Status::OK();
}

}  // namespace rpfs::catalog
