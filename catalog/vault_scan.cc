#include "catalog/vault_scan.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "catalog/block_fetch.h"
#include "catalog/vault_scan_pipe.h"
#include "journal/payload_codec.h"

namespace rpfs::catalog {
namespace {

constexpr size_t kBatchBytes = size_t{4} << 20;  // blocks gathered before reading
constexpr size_t kWideBatchBytes = size_t{32} << 20;  // ScanWindow::kWide

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

// Runs on the scan thread: fills batches from the index walk, reads them
// (catalog/block_fetch.h: all of a batch's records at once, checked and
// decoded on every core), puts them in the pipe.
class BatchReader {
 public:
  BatchReader(Vault& vault, const Disk& disk, size_t batch_blocks, ScanPipe* pipe)
      : vault_(vault), disk_(disk), bs_(vault.block_size()), batch_blocks_(batch_blocks),
        pipe_(pipe) {}

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
  Status Read(ScanBatch* b) {
    const size_t n = b->entries.size();
    wanted_.resize(n);
    for (size_t e = 0; e < n; ++e) {
      wanted_[e] = BlockFetch::Entry{b->entries[e].block, b->entries[e].found, b->out.get() + e * bs_};
    }
    size_t failed;
    Status s = fetch_.Read(vault_, disk_.id, wanted_.data(), n, true, &failed);
    if (!s.ok()) {
      b->good = failed;
      return Prefixed(s, "disk " + disk_.name + " block " + std::to_string(b->entries[failed].block) +
                             ": ");
    }
    b->good = n;
    return Status::OK();
  }

  Vault& vault_;
  const Disk& disk_;
  const uint64_t bs_;
  const size_t batch_blocks_;
  ScanPipe* pipe_;
  ScanBatch* batch_ = nullptr;  // being filled
  std::vector<BlockFetch::Entry> wanted_;
  BlockFetch fetch_;
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

Status ScanBlockRuns(Vault& vault, uint32_t disk, View view, const BlockRunFn& fn,
                     ScanWindow window) {
  Disk d;
  RPFS_RETURN_IF_ERROR(vault.GetDisk(disk, &d));
  // "Latest" is what the vault holds now. The scan reads LMDB alone, so
  // flush: then LMDB holds every version up to that seq.
  view.seq = std::min(view.seq, vault.last_seq());
  RPFS_RETURN_IF_ERROR(vault.FlushIndex());
  auto hold = vault.HoldSegments();  // the snapshot's segments stay until the scan ends
  const uint64_t bs = vault.block_size();
  const bool wide = window == ScanWindow::kWide;
  // A batch never needs more blocks than the disk has.
  const size_t batch_blocks = static_cast<size_t>(std::min<uint64_t>(
      std::max<size_t>(1, (wide ? kWideBatchBytes : kBatchBytes) / bs), d.size / bs + 1));
  ScanPipe pipe(batch_blocks, bs, wide ? 2 : 3);
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
