// Encrypted vaults: unlocking the data key at open, and changing the
// passphrase (a re-wrap of the key; no payload is rewritten).
#include <cstdint>

#include "catalog/vault.h"

namespace rpfs::catalog {

Status Vault::UnlockDataKey() {
  if (meta_.data_key.empty()) return Status::OK();  // not encrypted: nothing to pay
  std::string passphrase;
  if (!options_.passphrase) {
    return Status::InvalidArgument("vault " + dir_ + " is encrypted: its passphrase is needed");
  }
  RPFS_RETURN_IF_ERROR(options_.passphrase(&passphrase));
  Status s = journal::UnwrapDataKey(meta_.data_key, passphrase, &data_key_);
  if (s.IsInvalidArgument()) return Status::InvalidArgument("wrong passphrase for vault " + dir_);
  RPFS_RETURN_IF_ERROR(s);
  // A new epoch for this open's nonces, durable before the first append
  // can use one: a crash after this only wastes the epoch.
  if (meta_.seal_epoch == UINT32_MAX) {
    return Status::Internal("vault " + dir_ + ": seal epochs are used up (4294967295 opens)");
  }
  VaultMeta m = meta_;
  ++m.seal_epoch;
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) { return catalog_->PutMeta(txn, m); }));
  meta_.seal_epoch = m.seal_epoch;
  sealer_ = std::make_shared<journal::PayloadSealer>(data_key_.bytes, m.seal_epoch);
  return Status::OK();
}

Status Vault::ChangePassphrase(const std::string& current, const std::string& next,
                               const std::string& next_hash) {
  if (next.empty()) return Status::InvalidArgument("the new passphrase is empty");
  std::string seen, wrapped;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    seen = meta_.data_key;
  }
  if (encrypted()) {
    // scrypt twice, outside the write lock: writes go on meanwhile.
    journal::DataKey check;
    Status s = journal::UnwrapDataKey(seen, current, &check);
    if (s.IsInvalidArgument()) return Status::InvalidArgument("wrong passphrase for vault " + dir_);
    RPFS_RETURN_IF_ERROR(s);
    RPFS_RETURN_IF_ERROR(journal::WrapDataKey(data_key_, next, &wrapped));
  }
  std::lock_guard<std::mutex> l(write_mu_);
  if (meta_.data_key != seen) return Status::Busy("vault " + dir_ + ": the passphrase changed meanwhile");
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    VaultMeta m;
    RPFS_RETURN_IF_ERROR(catalog_->LoadMeta(txn, &m));
    m.data_key = wrapped;
    m.passphrase_hash = next_hash;
    return catalog_->PutMeta(txn, m);
  }));
  meta_.data_key = wrapped;
  meta_.passphrase_hash = next_hash;
  return Status::OK();
}

}  // namespace rpfs::catalog
