#include "catalog/vault_scan.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "catalog/vault_scan_pipe.h"
#include "journal/payload_codec.h"
#include "journal/worker_pool.h"

namespace rpfs::catalog {
namespace {

constexpr size_t kBatchBytes = size_t{4} << 20;  // blocks gathered before reading
// A stretch is what one read covers and one pool task checks and decodes:
// small enough that a batch splits into work for every core.
constexpr uint64_t kStretchBytes = uint64_t{256} << 10;
constexpr size_t kStretchRecords = 64;
// Records of other blocks or disks a read may cover to join two stretches:
// copying 32 KiB costs less than another system call.
constexpr uint64_t kMaxGap = uint64_t{32} << 10;
// Segment files kept open across batches; past this, all are closed.
constexpr size_t kMaxOpenSegments = 64;

std::string Where(const journal::RecordLocation& loc) {
  return "segment " + journal::SegmentFileName(loc.segment) + " offset " +
         std::to_string(loc.offset);
}

// s with `prefix` in front of its message, same code.
Status Prefixed(const Status& s, const std::string& prefix) {
  std::string m = prefix + s.message();
  switch (s.code()) {
    case Status::Code::kOk: return s;
    case Status::Code::kNotFound: return Status::NotFound(m);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(m);
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(m);
    case Status::Code::kBusy: return Status::Busy(m);
    case Status::Code::kNoSpace: return Status::NoSpace(m);
    case Status::Code::kReadOnly: return Status::ReadOnly(m);
    case Status::Code::kCorruption: return Status::Corruption(m);
    case Status::Code::kIOError: return Status::IOError(m);
    case Status::Code::kInternal: return Status::Internal(m);
  }
  return Status::Internal(m);
}

// Runs on the scan thread: fills batches from the index walk, reads,
// checks and decodes each (on the pool), puts it in the pipe.
class BatchReader {
 public:
  BatchReader(Vault& vault, const Disk& disk, size_t batch_blocks, ScanPipe* pipe)
      : vault_(vault),
        disk_(disk),
        bs_(vault.block_size()),
        batch_blocks_(batch_blocks),
        pipe_(pipe) {}
  ~BatchReader() {
    for (auto& [segment, fd] : fds_) ::close(fd);
  }
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  Status Add(uint64_t block, const FoundBlock& found) {
    if (batch_ == nullptr && (batch_ = pipe_->Free()) == nullptr) {
      return Status::Internal("scan stopped");  // the caller failed and says why
    }
    batch_->entries.push_back(ScanBatch::Entry{block, found});
    if (batch_->entries.size() < batch_blocks_) return Status::OK();
    return Flush();
  }

  // Reads the batch being filled and hands it over, good blocks first:
  // a failed block ends the scan with its error.
  Status Flush() {
    if (batch_ == nullptr) return Status::OK();
    ScanBatch* b = batch_;
    batch_ = nullptr;
    Status s = Read(b);
    pipe_->Put(b);
    return s;
  }

 private:
  struct Stretch {  // one read: records order_[first, end) of one segment file
    uint32_t segment;
    uint64_t offset;  // in the file
    uint64_t size;
    size_t first, end;
    int fd = -1;           // -1: could not open; ReadBlock says why
    size_t buffer_at = 0;  // where its bytes go in raw_
  };

  Status Read(ScanBatch* b) {
    const size_t n = b->entries.size();
    batch_ = b;
    done_.assign(n, 0);
    PlanStretches();
    journal::WorkerPool::Shared().Run(stretches_.size(), [&](size_t i) { ReadStretch(i); });
    batch_ = nullptr;
    for (size_t e = 0; e < n; ++e) {
      if (done_[e]) continue;
      // Read alone, by the code every read uses: it succeeds (a record
      // the batch could not reach) or says what is wrong.
      const ScanBatch::Entry& en = b->entries[e];
      Status s = vault_.ReadBlock(disk_.id, en.block, en.found, b->out.get() + e * bs_);
      if (!s.ok()) {
        b->good = e;
        return Prefixed(s, "disk " + disk_.name + " block " + std::to_string(en.block) + ": ");
      }
    }
    b->good = n;
    return Status::OK();
  }

  const journal::RecordLocation& Loc(uint32_t e) const {
    return batch_->entries[e].found.version.loc;
  }

  // Sorts the batch by record location (sequential writes are sorted
  // already) and cuts it into stretches of nearby records.
  void PlanStretches() {
    const size_t n = batch_->entries.size();
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
    if (fds_.size() >= kMaxOpenSegments) {  // between batches: none in use
      for (auto& [segment, fd] : fds_) ::close(fd);
      fds_.clear();
    }
    size_t total = 0;
    for (Stretch& s : stretches_) {
      s.buffer_at = total;
      total += s.size;
      s.fd = SegmentFd(s.segment);
    }
    if (raw_.size() < total) raw_.resize(total);
  }

  // True if entry e's record is stored (not compressed) by the index: its
  // payload is read straight into the block's place in the batch.
  bool StoredInPlace(uint32_t e) const {
    const FoundBlock& f = batch_->entries[e].found;
    return (f.version.flags & journal::kZstd) == 0 &&
           f.version.loc.size == journal::kRecordHeaderSize + bs_;
  }

  // On a pool thread: one preadv for the stretch (stored payloads land in
  // their blocks' places, everything else in raw_), then each record
  // checked and decoded. A record it cannot check (short read, any
  // mismatch) stays not done, for ReadBlock.
  void ReadStretch(size_t i) {
    const Stretch& s = stretches_[i];
    char* buf = raw_.data() + s.buffer_at;
    char* out = batch_->out.get();
    iovec iov[3 * kStretchRecords];
    int n = 0;
    uint64_t pos = s.offset;  // file offset the iovecs reach
    for (size_t k = s.first; k < s.end; ++k) {
      const uint32_t e = order_[k];
      const journal::RecordLocation& l = Loc(e);
      if (l.offset < pos) {  // overlapping records (a broken index): read plainly
        n = 0;
        pos = s.offset;
        break;
      }
      if (l.offset > pos) iov[n++] = {buf + (pos - s.offset), l.offset - pos};
      char* at = buf + (l.offset - s.offset);
      if (StoredInPlace(e)) {
        iov[n++] = {at, journal::kRecordHeaderSize};
        iov[n++] = {out + e * bs_, bs_};
      } else {
        iov[n++] = {at, l.size};
      }
      pos = uint64_t{l.offset} + l.size;
    }
    const bool in_place = n > 0;
    if (!in_place) iov[n++] = {buf, s.size};
    ssize_t r = -1;
    if (s.fd >= 0) {
      do {
        r = ::preadv(s.fd, iov, n, static_cast<off_t>(s.offset));
      } while (r < 0 && errno == EINTR);
    }
    const uint64_t got = r > 0 ? static_cast<uint64_t>(r) : 0;
    for (size_t k = s.first; k < s.end; ++k) {
      const uint32_t e = order_[k];
      const journal::RecordLocation& l = Loc(e);
      const uint64_t at = l.offset - s.offset;
      if (at + l.size > got) continue;
      const char* record = buf + at;
      char* block = out + e * bs_;
      const char* payload =
          in_place && StoredInPlace(e) ? block : record + journal::kRecordHeaderSize;
      done_[e] = CheckAndDecode(batch_->entries[e], record, payload, block);
    }
  }

  // The header at `record`, its payload at `payload` (which may already
  // be `block`): the checks of ReadBlock, then the block decoded. A
  // sealed payload (an encrypted vault) is opened first: straight into
  // `block` if it holds the block as it is, else into a scratch buffer.
  bool CheckAndDecode(const ScanBatch::Entry& en, const char* record, const char* payload,
                      char* block) const {
    const journal::RecordLocation& l = en.found.version.loc;
    if (l.size < journal::kRecordHeaderSize) return false;
    const auto* hdr = reinterpret_cast<const uint8_t*>(record);
    journal::RecordHeader h;
    std::string why;
    if (!journal::DecodeRecordHeader(hdr, &h, &why) ||
        journal::kRecordHeaderSize + uint64_t{h.payload_len} != l.size ||
        !journal::RecordCrcMatches(hdr, payload, h.payload_len)) {
      return false;
    }
    const journal::PayloadSealer* sealer = vault_.journal().sealer();
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
    if (!CheckBlockRecord(h, disk_.id, en.block, en.found, bs_).ok()) return false;
    if (payload == block) return h.payload_len == bs_ && (h.flags & journal::kZstd) == 0;
    return DecodeBlockPayload(h, payload, en.found, block, bs_).ok();
  }

  int SegmentFd(uint32_t segment) {
    auto it = fds_.find(segment);
    if (it != fds_.end()) return it->second;
    const std::string path = vault_.journal().SegmentPath(segment);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fds_[segment] = fd;
    return fd;
  }

  Vault& vault_;
  const Disk& disk_;
  const uint64_t bs_;
  const size_t batch_blocks_;
  ScanPipe* pipe_;
  ScanBatch* batch_ = nullptr;         // being filled, or being read
  std::vector<char> done_;         // per entry: checked and decoded
  std::vector<uint32_t> order_;    // entries by record location
  std::vector<Stretch> stretches_;
  std::string raw_;                // the stretches' bytes, but stored payloads
  std::map<uint32_t, int> fds_;
};

}  // namespace

Status CheckBlockRecord(const journal::RecordHeader& h, uint32_t disk, uint64_t block,
                        const FoundBlock& found, uint64_t block_size) {
  if (h.type != journal::RecordType::kWrite || h.disk != disk || h.branch != found.branch ||
      h.offset != block * block_size || h.seq != found.version.seq || h.length != block_size) {
    return Status::Corruption(Where(found.version.loc) +
                              ": record is not the block the index expects");
  }
  if (h.flags != found.version.flags) {
    return Status::Corruption(Where(found.version.loc) + ": record flags do not match the index");
  }
  return Status::OK();
}

Status DecodeBlockPayload(const journal::RecordHeader& h, const char* payload,
                          const FoundBlock& found, char* out, uint64_t block_size) {
  Status s = journal::DecodePayload(h.flags, payload, h.payload_len, out, block_size);
  if (!s.ok()) return Status::Corruption(Where(found.version.loc) + ": " + s.message());
  return Status::OK();
}

Status ScanBlockRuns(Vault& vault, uint32_t disk, View view, const BlockRunFn& fn) {
  Disk d;
  RPFS_RETURN_IF_ERROR(vault.GetDisk(disk, &d));
  // "Latest" is what the vault holds now. The scan reads LMDB alone, so
  // flush: then LMDB holds every version up to that seq.
  view.seq = std::min(view.seq, vault.last_seq());
  RPFS_RETURN_IF_ERROR(vault.FlushIndex());
  auto hold = vault.HoldSegments();  // the snapshot's segments stay until the scan ends
  const uint64_t bs = vault.block_size();
  const size_t batch_blocks = std::max<size_t>(1, kBatchBytes / bs);
  ScanPipe pipe(batch_blocks, bs);
  std::thread scan([&] {
    BatchReader reader(vault, d, batch_blocks, &pipe);
    Status s = vault.catalog().blocks().Scan(
        disk, vault.ChainFor(view), 0, d.size / bs, [&](uint64_t b, const FoundBlock& f) {
          if (f.version.flags & journal::kZero) return Status::OK();
          return reader.Add(b, f);
        });
    if (s.ok()) s = reader.Flush();
    pipe.Close(std::move(s));
  });
  // However this thread leaves (fn may throw), the scan thread is
  // stopped and joined first.
  struct Joiner {
    ScanPipe& pipe;
    std::thread& thread;
    ~Joiner() {
      if (!thread.joinable()) return;
      pipe.Stop();
      thread.join();
    }
  } joiner{pipe, scan};
  // Here, on the caller's thread: each batch's good blocks, by runs.
  Status s;
  while (ScanBatch* b = pipe.Take()) {
    for (size_t from = 0, e = 1; s.ok() && e <= b->good; ++e) {
      if (e == b->good || b->entries[e].block != b->entries[e - 1].block + 1) {
        s = fn(b->entries[from].block, b->out.get() + from * bs, e - from);
        from = e;
      }
    }
    pipe.GiveBack(b);
    if (!s.ok()) break;
  }
  pipe.Stop();
  scan.join();
  if (!s.ok()) return s;
  return pipe.status();
}

}  // namespace rpfs::catalog
