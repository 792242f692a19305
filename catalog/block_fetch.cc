#include "catalog/block_fetch.h"

#include <algorithm>
#include <numeric>

#include "catalog/vault.h"
#include "catalog/vault_scan.h"
#include "journal/payload_codec.h"
#include "journal/worker_pool.h"

namespace rpfs::catalog {
namespace {

// A stretch is what one read covers and one pool task checks and decodes:
// small enough that a batch splits into work for every core and every
// queue slot.
constexpr uint64_t kStretchBytes = uint64_t{256} << 10;
constexpr size_t kStretchRecords = 64;
// Stretch bytes read (and held) at a time.
constexpr uint64_t kGroupBytes = uint64_t{32} << 20;

}  // namespace

bool BlockFetch::StoredInPlace(uint32_t e) const {
  const FoundBlock& f = entries_[e].found;
  return (f.version.flags & journal::kZstd) == 0 &&
         f.version.loc.size == journal::kRecordHeaderSize + bs_;
}

Status BlockFetch::Read(Vault& vault, uint32_t disk, const Entry* entries, size_t n,
                        bool decode_on_pool, size_t* failed) {
  *failed = n;
  if (n == 0) return Status::OK();
  vault_ = &vault;
  disk_ = disk;
  bs_ = vault_->block_size();
  entries_ = entries;
  done_.assign(n, 0);
  PlanStretches();
  // In groups of at most kGroupBytes of stretches, so the bounce buffer
  // stays small however wide the request (a wide scan's batch may join
  // into hundreds of MiB of stretches).
  for (size_t g = 0; g < stretches_.size();) {
    size_t end = g;
    uint64_t total = 0;
    while (end < stretches_.size() && (end == g || total + stretches_[end].size <= kGroupBytes)) {
      stretches_[end].buffer_at = total;
      total += stretches_[end].size;
      ++end;
    }
    if (raw_.size() < total) raw_.resize(total);
    requests_.resize(end - g);
    iovs_.clear();
    for (size_t i = g; i < end; ++i) {
      int fd = -1;
      if (!vault_->journal().SegmentFd(stretches_[i].segment, &fd).ok()) fd = -1;
      PlanIovecs(stretches_[i], fd, &requests_[i - g]);
    }
    for (size_t i = g; i < end; ++i) {  // iovs_ is complete: no more moves
      requests_[i - g].iov = iovs_.data() + stretches_[i].iov_at;
    }
    // All at once. A segment that would not open (fd -1) fails its read
    // with EBADF and is left to ReadBlock, which says why.
    journal::ReadQueue::ReadAll(requests_.data(), requests_.size());
    if (decode_on_pool && end - g > 1) {
      journal::WorkerPool::Shared().Run(end - g, [&](size_t i) { CheckStretch(g + i, requests_[i].result); });
    } else {
      for (size_t i = g; i < end; ++i) CheckStretch(i, requests_[i - g].result);
    }
    g = end;
  }
  for (size_t e = 0; e < n; ++e) {
    if (done_[e]) continue;
    // Read alone, by the code every read uses: it succeeds (a record the
    // batch could not reach) or says what is wrong.
    Status s = vault_->ReadBlock(disk, entries[e].block, entries[e].found, entries[e].out);
    if (!s.ok()) {
      *failed = e;
      return s;
    }
  }
  return Status::OK();
}

// Sorts the entries by record location (sequential writes are sorted
// already) and cuts them into stretches of nearby records.
void BlockFetch::PlanStretches() {
  const size_t n = done_.size();
  auto before = [&](uint32_t a, uint32_t b) {
    return Loc(a).segment != Loc(b).segment ? Loc(a).segment < Loc(b).segment
                                            : Loc(a).offset < Loc(b).offset;
  };
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0u);
  if (!std::is_sorted(order_.begin(), order_.end(), before)) {
    std::stable_sort(order_.begin(), order_.end(), before);
  }
  stretches_.clear();
  for (size_t k = 0; k < n; ++k) {
    const journal::RecordLocation& l = Loc(order_[k]);
    const uint64_t end = uint64_t{l.offset} + l.size;
    if (!stretches_.empty()) {
      Stretch& s = stretches_.back();
      if (l.segment == s.segment && l.offset <= s.offset + s.size + kMaxGap &&
          end - s.offset <= kStretchBytes && k - s.first < kStretchRecords) {
        s.size = std::max(s.size, end - s.offset);
        s.end = k + 1;
        continue;
      }
    }
    stretches_.push_back(Stretch{l.segment, l.offset, l.size, k, k + 1});
  }
}

// The stretch's read: stored payloads go to their blocks' places,
// everything else (headers, compressed payloads, gaps) to raw_.
void BlockFetch::PlanIovecs(Stretch& s, int fd, journal::ReadRequest* req) {
  char* buf = raw_.data() + s.buffer_at;
  s.iov_at = iovs_.size();
  s.in_place = true;
  uint64_t pos = s.offset;  // file offset the iovecs reach
  for (size_t k = s.first; k < s.end; ++k) {
    const uint32_t e = order_[k];
    const journal::RecordLocation& l = Loc(e);
    if (l.offset < pos) {  // overlapping records (a broken index): read plainly
      s.in_place = false;
      break;
    }
    if (l.offset > pos) iovs_.push_back({buf + (pos - s.offset), l.offset - pos});
    if (StoredInPlace(e)) {
      iovs_.push_back({buf + (l.offset - s.offset), journal::kRecordHeaderSize});
      iovs_.push_back({entries_[e].out, bs_});
    } else {
      iovs_.push_back({buf + (l.offset - s.offset), l.size});
    }
    pos = uint64_t{l.offset} + l.size;
  }
  if (!s.in_place) {
    iovs_.resize(s.iov_at);
    iovs_.push_back({buf, s.size});
  }
  req->fd = fd;
  req->offset = s.offset;
  req->iovcnt = static_cast<int>(iovs_.size() - s.iov_at);
  req->want = s.size;
  req->result = -1;
}

// After the read: each record of stretch i checked and decoded. A record
// it cannot check (short read, any mismatch) stays not done, for ReadBlock.
void BlockFetch::CheckStretch(size_t i, int64_t r) {
  const Stretch& s = stretches_[i];
  const uint64_t got = r > 0 ? static_cast<uint64_t>(r) : 0;
  const char* buf = raw_.data() + s.buffer_at;
  for (size_t k = s.first; k < s.end; ++k) {
    const uint32_t e = order_[k];
    const journal::RecordLocation& l = Loc(e);
    const uint64_t at = l.offset - s.offset;
    if (at + l.size > got) continue;
    const char* record = buf + at;
    char* block = entries_[e].out;
    const char* payload =
        s.in_place && StoredInPlace(e) ? block : record + journal::kRecordHeaderSize;
    done_[e] = CheckAndDecode(entries_[e], record, payload, block);
  }
}

// The header at `record`, its payload at `payload` (which may already be
// `block`): the checks of ReadBlock, then the block decoded. A sealed
// payload (an encrypted vault) is opened first: straight into `block` if
// it holds the block as it is, else into a scratch buffer.
bool BlockFetch::CheckAndDecode(const Entry& en, const char* record, const char* payload,
                                char* block) const {
  journal::RecordHeader h;
  if (!journal::RecordIsWhole(reinterpret_cast<const uint8_t*>(record), payload,
                              en.found.version.loc.size, &h)) {
    return false;
  }
  const journal::PayloadSealer* sealer = vault_->journal().sealer();
  if ((sealer != nullptr) != ((h.flags & journal::kSealed) != 0)) return false;
  if (sealer != nullptr) {
    const journal::RecordHeader plain = journal::PlainHeader(h);
    thread_local std::string opened;  // reused: capacity stays
    char* to = block;
    if ((plain.flags & journal::kZstd) || plain.payload_len != bs_) {
      opened.resize(plain.payload_len);
      to = opened.data();
    }
    if (payload == block || h.payload_len < journal::kSealOverhead ||
        !sealer->Open(h, reinterpret_cast<const uint8_t*>(payload), reinterpret_cast<uint8_t*>(to))) {
      return false;
    }
    h = plain;
    payload = to;
  }
  if (!CheckBlockRecord(h, disk_, en.block, en.found, bs_).ok()) return false;
  if (payload == block) return h.payload_len == bs_ && (h.flags & journal::kZstd) == 0;
  return DecodeBlockPayload(h, payload, en.found, block, bs_).ok();
}

}  // namespace rpfs::catalog
