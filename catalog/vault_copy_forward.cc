// Copying block versions' records to the journal's end, and pointing the
// index at the copies: the two steps compaction (vault_compaction.cc) and
// defragmentation (vault_defrag.cc) share.
//
// CopyForward reads a batch of records (up to 8 MiB) all at once and
// checked (Journal::ReadRawMany), then appends them under the write lock
// in the order the caller gave, each with flag kCopy added and every other
// byte kept: a sealed record stays sealed (its AAD leaves kCopy out), a
// copy's seq and time are its original's. The caller holds compact_mu_:
// only a pass retires segments, so the records stay where the index says
// while they are read.
#include <chrono>
#include <thread>

#include "catalog/vault.h"

namespace rpfs::catalog {
namespace {

bool SameLoc(const journal::RecordLocation& a, const journal::RecordLocation& b) {
  return a.segment == b.segment && a.offset == b.offset && a.size == b.size;
}

}  // namespace

Status Vault::CopyForward(const std::vector<KeyedVersion>& moves, uint64_t rate_bytes_per_s,
                          std::vector<journal::RecordLocation>* copies, uint64_t* copied_bytes) {
  copies->assign(moves.size(), journal::RecordLocation());
  const auto start = std::chrono::steady_clock::now();
  constexpr uint64_t kBatchBytes = 8u << 20;
  std::vector<journal::RecordLocation> locs;
  std::string batch;
  std::vector<size_t> offsets;
  std::vector<journal::RecordHeader> headers;
  uint64_t copied = 0;
  for (size_t i = 0; i < moves.size();) {
    locs.clear();
    for (uint64_t bytes = 0; i + locs.size() < moves.size() && bytes < kBatchBytes;) {
      locs.push_back(moves[i + locs.size()].version.loc);
      bytes += locs.back().size;
    }
    const size_t j = i + locs.size();
    Status s = journal_->ReadRawMany(locs.data(), locs.size(), &batch, &offsets, &headers);
    if (!s.ok()) return Status::Corruption("copying forward: " + s.message());
    {
      std::lock_guard<std::mutex> l(write_mu_);
      for (size_t k = i; k < j; ++k) {
        const char* rec = batch.data() + offsets[k - i];
        journal::RecordHeader h = headers[k - i];
        h.flags |= journal::kCopy;
        RPFS_RETURN_IF_ERROR(journal_->AppendRaw(h, rec + journal::kRecordHeaderSize, &(*copies)[k]));
        copied += (*copies)[k].size;
      }
    }
    i = j;
    if (rate_bytes_per_s > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration<double>(static_cast<double>(copied) /
                                                static_cast<double>(rate_bytes_per_s)));
    }
  }
  if (!moves.empty()) RPFS_RETURN_IF_ERROR(journal_->Sync());
  *copied_bytes += copied;
  return Status::OK();
}

Status Vault::PointAtCopies(Txn& txn, const std::vector<KeyedVersion>& moves,
                            const std::vector<journal::RecordLocation>& copies) {
  for (size_t i = 0; i < moves.size(); ++i) {
    const KeyedVersion& e = moves[i];
    const auto key = EncodeBlockKey(e.key);
    std::string_view cur;
    BlockVersion v;
    RPFS_RETURN_IF_ERROR(txn.Get(catalog_->blocks_db, key.view(), &cur));
    if (!DecodeBlockValue(cur, e.key.seq, &v) || !SameLoc(v.loc, e.version.loc)) {
      return Status::Corruption("compaction: a moved block version changed under the pass");
    }
    BlockVersion moved{e.key.seq, copies[i], static_cast<uint8_t>(e.version.flags | journal::kCopy)};
    RPFS_RETURN_IF_ERROR(txn.Put(catalog_->blocks_db, key.view(), EncodeBlockValue(moved).view()));
  }
  return Status::OK();
}

}  // namespace rpfs::catalog
