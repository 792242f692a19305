// Vault reads and writes.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "catalog/vault.h"
#include "catalog/block_fetch.h"
#include "catalog/vault_scan.h"
#include "journal/payload_codec.h"

namespace rpfs::catalog {

View Vault::Latest(const Disk& disk) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto it = groups_.find(disk.group);
  return View{it == groups_.end() ? 1u : it->second.active_branch, kMaxSeq};
}

namespace {

// The whole blocks of [offset, offset + n): the first and how many.
void FullBlocks(uint64_t offset, size_t n, uint64_t bs, uint64_t* first, size_t* count) {
  *first = (offset + bs - 1) / bs;
  const uint64_t end = (offset + n) / bs;
  *count = end > *first ? static_cast<size_t>(end - *first) : 0;
}

}  // namespace

Status Vault::ActiveBranch(uint32_t disk, uint32_t* branch) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto d = disks_.find(disk);
  if (d == disks_.end()) return Status::NotFound("unknown disk id " + std::to_string(disk));
  auto g = groups_.find(d->second.group);
  *branch = g == groups_.end() ? 1 : g->second.active_branch;
  return Status::OK();
}

Status Vault::CheckWrite(uint32_t disk, uint32_t branch, uint64_t offset, size_t n) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto d = disks_.find(disk);
  if (d == disks_.end()) return Status::NotFound("unknown disk id " + std::to_string(disk));
  if (offset > d->second.size || n > d->second.size - offset) {
    return Status::InvalidArgument("write of " + std::to_string(n) + " bytes at offset " +
                                   std::to_string(offset) + " is past the end of disk " +
                                   d->second.name + " (" + std::to_string(d->second.size) +
                                   " bytes)");
  }
  return WritableLocked(d->second, branch);
}

Status Vault::Write(uint32_t disk, uint64_t offset, const void* data, size_t n) {
  uint32_t branch;
  RPFS_RETURN_IF_ERROR(ActiveBranch(disk, &branch));
  return WriteBranch(disk, branch, offset, data, n);
}

Status Vault::WriteBranch(uint32_t disk, uint32_t branch, uint64_t offset, const void* data,
                          size_t n) {
  RPFS_RETURN_IF_ERROR(CheckWrite(disk, branch, offset, n));
  if (n == 0) return Status::OK();
  // Encode whole blocks (zero test, compression) before taking the write
  // lock: that is most of a write's CPU, and it runs in parallel across
  // writers and, for big requests, across cores.
  const auto* bytes = static_cast<const char*>(data);
  uint64_t first_full;
  size_t full_count;
  FullBlocks(offset, n, meta_.block_size, &first_full, &full_count);
  thread_local std::vector<journal::EncodedBlock> encoded;  // reused: capacity stays
  if (encoded.size() < full_count) encoded.resize(full_count);
  if (full_count > 0) {
    encoder_->EncodeRun(disk, bytes + (first_full * meta_.block_size - offset), full_count,
                        meta_.block_size, encoded.data());
  }
  return AppendEncoded(disk, branch, offset, bytes, n, encoded.data(), first_full, full_count);
}

size_t Vault::EncodeWrite(uint32_t disk, uint64_t offset, const void* data, size_t n,
                          std::vector<journal::EncodedBlock>* blocks, char* room) const {
  const uint64_t bs = meta_.block_size;
  uint64_t first_full;
  size_t full_count;
  FullBlocks(offset, n, bs, &first_full, &full_count);
  if (blocks->size() < full_count) blocks->resize(full_count);
  // Compressed bodies go into room back to back: each is under 7/8 of a
  // block, so n bytes always hold them, and only the pages they fill are
  // touched (on a VM, a page's first touch is the dear part).
  const char* at = static_cast<const char*>(data) + (first_full * bs - offset);
  char* next = room;
  for (size_t i = 0; i < full_count; ++i) {
    journal::EncodedBlock& b = (*blocks)[i];
    encoder_->Encode(disk, at + i * bs, bs, &b, next);
    if (b.flags & journal::kZstd) next += b.body_len;
  }
  return full_count;
}

Status Vault::WriteEncoded(uint32_t disk, uint64_t offset, const void* data, size_t n,
                           const journal::EncodedBlock* blocks, size_t count) {
  uint32_t branch;
  RPFS_RETURN_IF_ERROR(ActiveBranch(disk, &branch));
  RPFS_RETURN_IF_ERROR(CheckWrite(disk, branch, offset, n));
  if (n == 0) return Status::OK();
  uint64_t first_full;
  size_t full_count;
  FullBlocks(offset, n, meta_.block_size, &first_full, &full_count);
  if (count != full_count) {
    return Status::InvalidArgument("write at offset " + std::to_string(offset) + ": " +
                                   std::to_string(count) + " encoded blocks for " +
                                   std::to_string(full_count));
  }
  return AppendEncoded(disk, branch, offset, static_cast<const char*>(data), n, blocks,
                       first_full, full_count);
}

Status Vault::AppendEncoded(uint32_t disk, uint32_t branch, uint64_t offset, const char* data,
                            size_t n, const journal::EncodedBlock* full, uint64_t first_full,
                            size_t full_count) {
  std::lock_guard<std::mutex> l(write_mu_);
  {
    // Again under the write lock: a failover may have closed the branch
    // while this write was encoding, and must not see it land after.
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    auto d = disks_.find(disk);
    if (d == disks_.end()) return Status::NotFound("unknown disk id " + std::to_string(disk));
    RPFS_RETURN_IF_ERROR(WritableLocked(d->second, branch));
  }
  return WriteLocked(disk, branch, offset, data, n, full, first_full, full_count);
}

Status Vault::WriteLocked(uint32_t disk, uint32_t branch, uint64_t offset, const char* data,
                          size_t n, const journal::EncodedBlock* full, uint64_t first_full,
                          size_t full_count) {
  const uint64_t bs = meta_.block_size;
  const uint64_t seq = last_seq_ + 1;
  const uint64_t now = NextTimeLocked();
  const uint64_t end = offset + n;
  const uint64_t first = offset / bs;
  const size_t count = static_cast<size_t>((end - 1) / bs - first + 1);
  // The partial blocks (at most the first and the last) merged with what
  // the branch holds now, before anything is appended: a read that fails
  // leaves the write out whole.
  std::string partial[2];
  journal::EncodedBlock merged[2];
  auto is_full = [&](uint64_t b) { return b >= first_full && b - first_full < full_count; };
  const uint64_t ends[2] = {first, first + count - 1};
  const BranchChain chain = ChainFor(View{branch, kMaxSeq});
  for (int k = 0; k < 2; ++k) {
    const uint64_t b = ends[k];
    if (is_full(b) || (k == 1 && count == 1)) continue;
    partial[k].resize(bs);
    char* block = partial[k].data();
    auto hold = HoldSegments();
    RPFS_RETURN_IF_ERROR(catalog_->blocks().Read([&](BlockMap::Reader& r) {
      FoundBlock f;
      RPFS_RETURN_IF_ERROR(r.Find(disk, chain, b, &f));
      if (!f.found || (f.version.flags & journal::kZero)) {
        std::memset(block, 0, bs);
        return Status::OK();
      }
      return ReadBlock(disk, b, f, block);
    }));
    const uint64_t from = std::max(offset, b * bs);
    const uint64_t to = std::min(end, (b + 1) * bs);
    std::memcpy(block + (from - b * bs), data + (from - offset), to - from);
    encoder_->Encode(disk, block, bs, &merged[k]);
  }
  // One record a block, appended as one run (one journal lock).
  thread_local std::vector<journal::RecordHeader> headers;  // reused: capacity stays
  thread_local std::vector<const void*> payloads;
  thread_local std::vector<journal::RecordLocation> locs;
  headers.resize(count);
  payloads.resize(count);
  locs.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t b = first + i;
    const journal::EncodedBlock* e =
        is_full(b) ? &full[b - first_full] : &merged[b == ends[0] ? 0 : 1];
    journal::RecordHeader& h = headers[i];
    h = journal::RecordHeader{};
    h.type = journal::RecordType::kWrite;
    h.flags = static_cast<uint8_t>(e->flags | (i + 1 < count ? journal::kContinued : 0));
    h.payload_len = e->body_len;
    h.length = static_cast<uint32_t>(bs);
    h.seq = seq;
    h.time_ns = now;
    h.disk = disk;
    h.branch = branch;
    h.offset = b * bs;
    payloads[i] = e->body;
  }
  size_t appended = 0;
  Status result = journal_->AppendRun(headers.data(), payloads.data(), count, locs.data(), &appended);
  for (size_t i = 0; i < appended; ++i) {
    catalog_->blocks().Add(BlockKey{disk, branch, first + i, seq},
                           BlockVersion{seq, locs[i], headers[i].flags});
  }
  if (appended > 0) {  // some blocks went in under this seq
    last_seq_ = seq;
    NoteTimeLocked(now, seq);
  }
  if (!result.ok()) return result;
  return NoteIndexGrowthLocked();
}

Status Vault::ReadBlock(uint32_t disk, uint64_t block, const FoundBlock& found, char* out) {
  const uint64_t bs = meta_.block_size;
  if (found.version.flags & journal::kZero) {
    std::memset(out, 0, bs);
    return Status::OK();
  }
  // The checks are the batched scan's too (catalog/vault_scan.h).
  journal::RecordHeader h;
  if ((found.version.flags & journal::kZstd) == 0) {
    // Uncompressed: the payload goes straight into the caller's buffer.
    RPFS_RETURN_IF_ERROR(journal_->ReadInto(found.version.loc, &h, out, bs));
    return CheckBlockRecord(h, disk, block, found, bs);
  }
  thread_local std::string record;  // reused: no allocation per block read
  RPFS_RETURN_IF_ERROR(journal_->Read(found.version.loc, &h, &record));
  RPFS_RETURN_IF_ERROR(CheckBlockRecord(h, disk, block, found, bs));
  return DecodeBlockPayload(h, record.data() + journal::kRecordHeaderSize, found, out, bs);
}

Status Vault::CheckRead(uint32_t disk, View view, uint64_t offset, size_t n) const {
  uint64_t size;
  {
    std::shared_lock<std::shared_mutex> l(rows_mu_);
    auto d = disks_.find(disk);
    if (d == disks_.end()) return Status::NotFound("unknown disk id " + std::to_string(disk));
    size = d->second.size;
    if (!branches_.count(view.branch)) {
      return Status::NotFound("unknown branch " + std::to_string(view.branch));
    }
    // A view that compaction has since reclaimed reads as an error, never
    // as the newer (or missing) blocks that are left.
    RPFS_RETURN_IF_ERROR(CheckHorizonLocked(d->second.group, view.seq));
  }
  if (offset > size || n > size - offset) {
    return Status::InvalidArgument("read of " + std::to_string(n) + " bytes at offset " +
                                   std::to_string(offset) + " is past the end of the disk (" +
                                   std::to_string(size) + " bytes)");
  }
  return Status::OK();
}

Status Vault::Read(uint32_t disk, View view, uint64_t offset, size_t n, void* out) {
  RPFS_RETURN_IF_ERROR(CheckRead(disk, view, offset, n));
  if (n == 0) return Status::OK();
  // Planned whole: every block looked up first (one snapshot), then all
  // their records read at once (catalog/block_fetch.h). Partial blocks at
  // either end go through a bounce buffer.
  const uint64_t bs = meta_.block_size;
  BranchChain chain = ChainFor(view);
  char* dst = static_cast<char*>(out);
  const uint64_t end = offset + n;
  const uint64_t first = offset / bs;
  const uint64_t last = (end - 1) / bs;
  thread_local std::vector<BlockFetch::Entry> wanted;  // reused: capacity stays
  thread_local std::string bounce;                    // the partial head and tail blocks
  wanted.clear();
  if (bounce.size() < 2 * bs) bounce.resize(2 * bs);
  char* head = bounce.data();
  char* tail = bounce.data() + bs;
  auto hold = HoldSegments();
  RPFS_RETURN_IF_ERROR(catalog_->blocks().Read([&](BlockMap::Reader& r) {
    for (uint64_t b = first; b <= last; ++b) {
      const uint64_t from = std::max(offset, b * bs);
      const uint64_t to = std::min(end, (b + 1) * bs);
      char* target = dst + (from - offset);
      FoundBlock f;
      RPFS_RETURN_IF_ERROR(r.Find(disk, chain, b, &f));
      if (!f.found || (f.version.flags & journal::kZero)) {
        std::memset(target, 0, to - from);
      } else if (to - from == bs) {
        wanted.push_back(BlockFetch::Entry{b, f, target});
      } else {
        wanted.push_back(BlockFetch::Entry{b, f, b == first ? head : tail});
      }
    }
    return Status::OK();
  }));
  thread_local BlockFetch fetch;  // reused: its buffers stay
  size_t failed;
  RPFS_RETURN_IF_ERROR(fetch.Read(*this, disk, wanted.data(), wanted.size(), false, &failed));
  for (const BlockFetch::Entry& e : wanted) {
    if (e.out != head && e.out != tail) continue;
    const uint64_t from = std::max(offset, e.block * bs);
    const uint64_t to = std::min(end, (e.block + 1) * bs);
    std::memcpy(dst + (from - offset), e.out + (from - e.block * bs), to - from);
  }
  return Status::OK();
}

Status Vault::Sync() { return journal_->Sync(); }

Status Vault::ScanData(uint32_t disk, View view,
                       const std::function<Status(uint64_t, const char*)>& fn) {
  // Batched reads, decoded on every core (catalog/vault_scan.cc).
  const uint64_t bs = meta_.block_size;
  return ScanBlockRuns(*this, disk, view,
                       [&](uint64_t first, const char* data, size_t blocks) -> Status {
                         for (size_t i = 0; i < blocks; ++i) {
                           RPFS_RETURN_IF_ERROR(fn(first + i, data + i * bs));
                         }
                         return Status::OK();
                       });
}

}  // namespace rpfs::catalog
