// Copying block versions' records to the journal's end, and pointing the
// index at the copies: the two steps compaction (vault_compaction.cc) and
// defragmentation (vault_defrag.cc) share.
//
// CopyForward reads a batch of records (up to 8 MiB) all at once, sorted
// by location, records adjacent in a segment file joined into one read
// (journal/read_queue.h), checks each (header, length, crc), then appends
// them under the write lock in the order the caller gave, each with flag
// kCopy added and every other byte kept: a sealed record stays sealed
// (its AAD leaves kCopy out), a copy's seq and time are its original's.
// A record the batch could not read or check is read once more alone by
// Journal::ReadRaw, which reads the append buffer or names the damage.
// The caller holds compact_mu_: only a pass retires segments, so the
// records stay where the index says while they are read.
#include <algorithm>
#include <chrono>
#include <thread>

#include "catalog/vault.h"
#include "journal/read_queue.h"

namespace rpfs::catalog {
namespace {

bool SameLoc(const journal::RecordLocation& a, const journal::RecordLocation& b) {
  return a.segment == b.segment && a.offset == b.offset && a.size == b.size;
}

// The record at rec (size bytes) is whole: its header parses, its length
// is the index's, its crc matches.
bool RecordChecks(const char* rec, uint32_t size) {
  if (size < journal::kRecordHeaderSize) return false;
  const auto* hdr = reinterpret_cast<const uint8_t*>(rec);
  journal::RecordHeader h;
  std::string why;
  return journal::DecodeRecordHeader(hdr, &h, &why) &&
         journal::kRecordHeaderSize + uint64_t{h.payload_len} == size &&
         journal::RecordCrcMatches(hdr, hdr + journal::kRecordHeaderSize, h.payload_len);
}

}  // namespace

Status Vault::ReadRecordsRaw(const KeyedVersion* moves, size_t n, std::string* batch,
                             std::vector<size_t>* offsets) {
  offsets->resize(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    (*offsets)[i] = total;
    total += moves[i].version.loc.size;
  }
  batch->resize(total);
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const auto &x = moves[a].version.loc, &y = moves[b].version.loc;
    return std::tie(x.segment, x.offset) < std::tie(y.segment, y.offset);
  });
  // One read per run of records that touch in a file, at most 64 each.
  std::vector<iovec> iovs(n);
  std::vector<journal::ReadRequest> reqs;
  reqs.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    const uint32_t i = order[k];
    const journal::RecordLocation& loc = moves[i].version.loc;
    iovs[k] = iovec{batch->data() + (*offsets)[i], loc.size};
    if (!reqs.empty() && k > 0) {
      const journal::RecordLocation& prev = moves[order[k - 1]].version.loc;
      journal::ReadRequest& last = reqs.back();
      if (prev.segment == loc.segment && uint64_t{prev.offset} + prev.size == loc.offset &&
          last.iovcnt < 64) {
        ++last.iovcnt;
        last.want += loc.size;
        continue;
      }
    }
    int fd;
    RPFS_RETURN_IF_ERROR(journal_->SegmentFd(loc.segment, &fd));
    journal::ReadRequest r;
    r.fd = fd;
    r.offset = loc.offset;
    r.iov = &iovs[k];
    r.iovcnt = 1;
    r.want = loc.size;
    reqs.push_back(r);
  }
  journal::ReadQueue::ReadAll(reqs.data(), reqs.size());
  // Check each record; read again alone what the batch did not get whole.
  size_t k = 0;
  for (const journal::ReadRequest& r : reqs) {
    uint64_t at = 0;
    for (int j = 0; j < r.iovcnt; ++j, ++k) {
      const uint32_t i = order[k];
      const journal::RecordLocation& loc = moves[i].version.loc;
      char* rec = batch->data() + (*offsets)[i];
      const bool got = r.result >= 0 && static_cast<uint64_t>(r.result) >= at + loc.size;
      at += loc.size;
      if (got && RecordChecks(rec, loc.size)) continue;
      journal::RecordHeader h;
      std::string record;
      Status s = journal_->ReadRaw(loc, &h, &record);
      if (!s.ok()) return Status::Corruption("copying forward: " + s.message());
      if (record.size() != loc.size) {
        return Status::Corruption("copying forward: segment " + journal::SegmentFileName(loc.segment) +
                                  " offset " + std::to_string(loc.offset) + ": record size changed");
      }
      std::copy(record.begin(), record.end(), rec);
    }
  }
  return Status::OK();
}

Status Vault::CopyForward(const std::vector<KeyedVersion>& moves, uint64_t rate_bytes_per_s,
                          std::vector<journal::RecordLocation>* copies, uint64_t* copied_bytes) {
  copies->assign(moves.size(), journal::RecordLocation());
  const auto start = std::chrono::steady_clock::now();
  constexpr uint64_t kBatchBytes = 8u << 20;
  std::string batch;
  std::vector<size_t> offsets;
  uint64_t copied = 0;
  for (size_t i = 0; i < moves.size();) {
    size_t j = i;
    for (uint64_t bytes = 0; j < moves.size() && bytes < kBatchBytes; ++j) {
      bytes += moves[j].version.loc.size;
    }
    RPFS_RETURN_IF_ERROR(ReadRecordsRaw(&moves[i], j - i, &batch, &offsets));
    {
      std::lock_guard<std::mutex> l(write_mu_);
      for (size_t k = i; k < j; ++k) {
        const char* rec = batch.data() + offsets[k - i];
        journal::RecordHeader h;
        std::string why;
        if (!journal::DecodeRecordHeader(reinterpret_cast<const uint8_t*>(rec), &h, &why)) {
          return Status::Corruption("copying forward: " + why);
        }
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
