#include "journal/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "journal/read_queue.h"
#include "journal/recovery.h"
#include "journal/segment_reader.h"
#include "journal/worker_pool.h"

namespace rpfs::journal {

Journal::Journal(std::string dir, const VaultId& id, const JournalOptions& options)
    : dir_(std::move(dir)), id_(id), options_(options) {}

Journal::~Journal() {
  if (sealer_.joinable()) {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_sealer_ = true;
    }
    seal_cv_.notify_all();
    sealer_.join();
  }
  if (writer_) writer_->Flush();
  for (auto& [seg, fd] : read_fds_) ::close(fd);
}

std::string Journal::SegmentPath(uint32_t segment) const {
  return dir_ + "/" + SegmentFileName(segment);
}

Status Journal::Create(const std::string& dir, const VaultId& id, const JournalOptions& options,
                       std::unique_ptr<Journal>* out) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir " + dir);
  }
  std::unique_ptr<Journal> j(new Journal(dir, id, options));
  SegmentHeader h;
  h.segment = 1;
  h.vault_id = id;
  h.first_seq = 1;
  std::unique_ptr<SegmentWriter> w;
  RPFS_RETURN_IF_ERROR(SegmentWriter::Create(j->SegmentPath(1), h, &w));
  RPFS_RETURN_IF_ERROR(w->Sync());
  j->writer_ = std::move(w);
  j->segments_ = {1};
  j->synced_ = j->EndLocked();
  j->PublishFlushedLocked();
  j->sealer_ = std::thread([p = j.get()] { p->SealerLoop(); });
  *out = std::move(j);
  return Status::OK();
}

Status Journal::Open(const std::string& dir, const VaultId& id, const JournalOptions& options,
                     JournalPos replay_from, uint64_t replay_seq,
                     const std::vector<uint32_t>& retired,
                     const RecordVisitor& visit, RecoveryReport* report,
                     std::unique_ptr<Journal>* out) {
  std::unique_ptr<Journal> j(new Journal(dir, id, options));
  RPFS_RETURN_IF_ERROR(ListSegments(dir, retired, &j->segments_));
  if (j->segments_.empty()) return Status::Corruption("journal " + dir + " has no segments");
  RPFS_RETURN_IF_ERROR(RecoverTail(dir, id, &j->segments_, replay_from, replay_seq, visit, report,
                                   options.sealer.get()));
  uint32_t last = j->segments_.back();
  std::unique_ptr<SegmentWriter> w;
  RPFS_RETURN_IF_ERROR(
      SegmentWriter::OpenForAppend(j->SegmentPath(last), last, report->end.offset, &w));
  j->writer_ = std::move(w);
  j->max_seq_ = report->last_seq;
  j->synced_ = j->EndLocked();
  j->PublishFlushedLocked();
  j->sealer_ = std::thread([p = j.get()] { p->SealerLoop(); });
  *out = std::move(j);
  return Status::OK();
}

Status Journal::Retire(uint32_t segment) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (segment >= writer_->segment() || (sealing_ && segment == sealing_->segment())) {
      return Status::InvalidArgument("segment " + SegmentFileName(segment) +
                                     " is not sealed and durable: it cannot be retired");
    }
    segments_.erase(std::remove(segments_.begin(), segments_.end(), segment), segments_.end());
  }
  {
    std::unique_lock<std::shared_mutex> l(fds_mu_);
    auto it = read_fds_.find(segment);
    if (it != read_fds_.end()) {
      ::close(it->second);
      read_fds_.erase(it);
    }
  }
  const std::string path = SegmentPath(segment);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "remove " + path);
  return Status::OK();
}

JournalPos Journal::end() const {
  std::lock_guard<std::mutex> l(mu_);
  return EndLocked();
}

void Journal::PublishFlushedLocked() {
  flushed_mark_.store((uint64_t{writer_->segment()} << 32) | writer_->flushed(),
                      std::memory_order_release);
}

JournalPos Journal::EndLocked() const {
  return JournalPos{writer_->segment(), writer_->size()};
}

std::vector<uint32_t> Journal::Segments() const {
  std::lock_guard<std::mutex> l(mu_);
  return segments_;
}

Status Journal::Roll(uint64_t first_seq) {
  RPFS_RETURN_IF_ERROR(writer_->Flush());
  if (sealing_) RPFS_RETURN_IF_ERROR(FinishSealLocked());  // at most one owed (Append waited)
  SegmentHeader h;
  h.segment = writer_->segment() + 1;
  h.vault_id = id_;
  h.first_seq = first_seq;
  // The new segment is not synced here: that fdatasync (a new file's
  // first) waits for the file system to commit, which on ext4 means for
  // the writeback of the segment being sealed, and the appender would
  // stall for all of it at every roll. Its header becomes durable with
  // its first synced records (Sync fdatasyncs the newest segment) or its
  // seal; a crash before leaves a newest segment with no header, which
  // can hold no acknowledged record and which recovery drops.
  std::unique_ptr<SegmentWriter> w;
  RPFS_RETURN_IF_ERROR(SegmentWriter::Create(SegmentPath(h.segment), h, &w));
  w->SwapEmptyBuffer(writer_.get());
  sealing_ = std::move(writer_);
  writer_ = std::move(w);
  segments_.push_back(h.segment);
  PublishFlushedLocked();
  seal_cv_.notify_all();  // the sealer takes it from here
  return Status::OK();
}

Status Journal::FinishSealLocked() {
  if (::fdatasync(sealing_->fd()) != 0) return Status::FromErrno(errno, "fdatasync " + sealing_->path());
  SealedLocked(sealing_);
  return Status::OK();
}

void Journal::SealedLocked(const std::shared_ptr<SegmentWriter>& sealed) {
  if (sealing_ != sealed) return;  // someone else got there first
  sealing_.reset();
  seal_failed_ = false;
  seal_cv_.notify_all();
}

void Journal::SealerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    seal_cv_.wait(l, [&] { return stop_sealer_ || (sealing_ && !seal_failed_); });
    if (stop_sealer_) return;
    std::shared_ptr<SegmentWriter> sealed = sealing_;
    l.unlock();
    const bool ok = ::fdatasync(sealed->fd()) == 0;
    l.lock();
    if (ok) {
      SealedLocked(sealed);
    } else if (sealing_ == sealed) {
      // Left owed: the next Roll or Sync syncs it inline and reports why.
      seal_failed_ = true;
      seal_cv_.notify_all();
    }
  }
}

Status Journal::Append(const RecordHeader& h, const void* payload, RecordLocation* loc) {
  size_t appended;
  return AppendRun(&h, &payload, 1, loc, &appended);
}

Status Journal::AppendRaw(const RecordHeader& h, const void* payload, RecordLocation* loc) {
  if (((h.flags & kSealed) != 0) != (options_.sealer != nullptr)) {
    return Status::InvalidArgument(options_.sealer
                                       ? "journal: record not sealed in an encrypted vault"
                                       : "journal: sealed record in a vault without encryption");
  }
  std::unique_lock<std::mutex> l(mu_);
  uint64_t total = kRecordHeaderSize + uint64_t{h.payload_len};
  RPFS_RETURN_IF_ERROR(MakeRoomLocked(l, total, h.seq));
  uint64_t offset;
  Status s = writer_->Append(h, payload, &offset);
  PublishFlushedLocked();  // Append may have flushed
  RPFS_RETURN_IF_ERROR(s);
  max_seq_ = std::max(max_seq_, h.seq);
  loc->segment = writer_->segment();
  loc->offset = static_cast<uint32_t>(offset);
  loc->size = static_cast<uint32_t>(total);
  return Status::OK();
}

Status Journal::MakeRoomLocked(std::unique_lock<std::mutex>& l, uint64_t bytes, uint64_t seq) {
  while (writer_->size() + bytes > options_.max_segment_bytes &&
         writer_->size() > kSegmentHeaderSize) {
    if (sealing_ && !seal_failed_) {
      // A segment can be sealed only once its predecessor is durable:
      // wait for the sealer (a 64 MiB segment later, it has long been
      // done), then look again: another writer may have rolled meanwhile.
      seal_cv_.wait(l);
      continue;
    }
    // A failed seal is retried here, so its error rejects this record
    // rather than leaving it half-accepted.
    RPFS_RETURN_IF_ERROR(Roll(max_seq_ > 0 ? max_seq_ + 1 : seq));
  }
  return Status::OK();
}

Status Journal::AppendRun(const RecordHeader* hs, const void* const* payloads, size_t n,
                          RecordLocation* locs, size_t* appended) {
  *appended = 0;
  PayloadSealer* sealer = options_.sealer.get();
  // The stored form of every record, made before the lock: reused, so
  // their capacity stays. (Named through references: a lambda run on a
  // helper thread would see that thread's own thread_locals.)
  thread_local std::vector<uint8_t> tl_headers;
  thread_local std::vector<const char*> tl_bodies;
  thread_local std::vector<uint32_t> tl_lens;
  thread_local std::vector<size_t> tl_sealed_at;
  thread_local std::string tl_sealed;
  std::vector<uint8_t>& headers = tl_headers;
  std::vector<const char*>& bodies = tl_bodies;
  std::vector<uint32_t>& lens = tl_lens;
  std::vector<size_t>& sealed_at = tl_sealed_at;
  std::string& sealed = tl_sealed;
  headers.resize(n * kRecordHeaderSize);
  bodies.resize(n);
  lens.resize(n);
  size_t sealed_bytes = 0;
  if (sealer) sealed_at.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (hs[i].flags & kSealed) return Status::InvalidArgument("journal: kSealed is the journal's to set");
    if (sealer) {
      sealed_at[i] = sealed_bytes;
      sealed_bytes += size_t{hs[i].payload_len} + kSealOverhead;
    }
  }
  if (sealer && sealed.size() < sealed_bytes) sealed.resize(sealed_bytes);
  std::atomic<size_t> failed{n};  // the first record whose seal failed
  Status seal_error;
  std::mutex error_mu;
  auto encode = [&](size_t i) {
    RecordHeader h = hs[i];
    const char* body = static_cast<const char*>(payloads[i]);
    if (sealer) {
      char* to = sealed.data() + sealed_at[i];
      Status s = sealer->Seal(h, body, reinterpret_cast<uint8_t*>(to));
      if (!s.ok()) {
        std::lock_guard<std::mutex> g(error_mu);
        if (i < failed.load()) {
          failed.store(i);
          seal_error = s;
        }
        return;
      }
      h.flags |= kSealed;
      h.payload_len += static_cast<uint32_t>(kSealOverhead);
      body = to;
    }
    EncodeRecordHeader(h, body, headers.data() + i * kRecordHeaderSize);
    bodies[i] = body;
    lens[i] = h.payload_len;
  };
  if (n >= kParallelRun) {
    // Chunks of 16 records: crcs (and seals) of a 1 MiB write on both cores.
    constexpr size_t kChunk = 16;
    WorkerPool::Shared().Run((n + kChunk - 1) / kChunk, [&](size_t c) {
      for (size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) encode(i);
    });
  } else {
    for (size_t i = 0; i < n; ++i) encode(i);
  }
  // Records after a failed seal are not appended: the run stays in order.
  const size_t count = failed.load();

  std::unique_lock<std::mutex> l(mu_);
  Status s;
  size_t i = 0;
  while (i < count) {
    s = MakeRoomLocked(l, kRecordHeaderSize + uint64_t{lens[i]}, hs[i].seq);
    if (!s.ok()) break;
    // The records that fit in this segment (at least one: an empty
    // segment takes any record).
    uint64_t room = options_.max_segment_bytes - std::min(options_.max_segment_bytes, writer_->size());
    size_t j = i;
    uint64_t bytes = 0;
    do {
      bytes += kRecordHeaderSize + uint64_t{lens[j]};
      ++j;
    } while (j < count && bytes + kRecordHeaderSize + lens[j] <= room);
    uint64_t offset;
    s = writer_->AppendMany(headers.data() + i * kRecordHeaderSize, bodies.data() + i,
                            lens.data() + i, j - i, &offset);
    if (!s.ok()) break;
    for (size_t k = i; k < j; ++k) {
      locs[k].segment = writer_->segment();
      locs[k].offset = static_cast<uint32_t>(offset);
      locs[k].size = static_cast<uint32_t>(kRecordHeaderSize + lens[k]);
      offset += locs[k].size;
      max_seq_ = std::max(max_seq_, hs[k].seq);
    }
    *appended = j;
    i = j;
  }
  PublishFlushedLocked();  // AppendMany may have written
  if (!s.ok()) return s;
  return count < n ? seal_error : Status::OK();
}

Status Journal::Sync() {
  std::unique_lock<std::mutex> l(mu_);
  JournalPos target = EndLocked();
  for (;;) {
    if (synced_ >= target) return Status::OK();
    if (!syncing_) break;
    sync_done_.wait(l);
  }
  syncing_ = true;
  Status s = writer_->Flush();
  PublishFlushedLocked();
  std::shared_ptr<SegmentWriter> w = writer_;
  std::shared_ptr<SegmentWriter> sealed = sealing_;  // whole: it was flushed at the roll
  JournalPos reached = EndLocked();
  if (s.ok()) {
    l.unlock();
    // The sealed segment first: a record must never be durable while an
    // older one is not.
    if (sealed && ::fdatasync(sealed->fd()) != 0) {
      s = Status::FromErrno(errno, "fdatasync " + sealed->path());
    } else if (::fdatasync(w->fd()) != 0) {
      s = Status::FromErrno(errno, "fdatasync " + w->path());
    }
    l.lock();
  }
  syncing_ = false;
  if (s.ok() && sealed) SealedLocked(sealed);
  if (s.ok() && reached > synced_) synced_ = reached;
  sync_done_.notify_all();
  return s;
}

Status Journal::SegmentFd(uint32_t segment, int* fd) {
  {
    std::shared_lock<std::shared_mutex> l(fds_mu_);
    auto it = read_fds_.find(segment);
    if (it != read_fds_.end()) {
      *fd = it->second;
      return Status::OK();
    }
  }
  std::unique_lock<std::shared_mutex> l(fds_mu_);
  auto it = read_fds_.find(segment);
  if (it != read_fds_.end()) {
    *fd = it->second;
    return Status::OK();
  }
  std::string path = SegmentPath(segment);
  int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f < 0) {
    if (errno == ENOENT) return Status::Corruption("segment " + SegmentFileName(segment) + " is missing");
    return Status::FromErrno(errno, "open " + path);
  }
  read_fds_[segment] = f;
  *fd = f;
  return Status::OK();
}

bool Journal::MaybeBuffered(const RecordLocation& loc) const {
  const uint64_t mark = flushed_mark_.load(std::memory_order_acquire);
  const uint32_t mark_segment = static_cast<uint32_t>(mark >> 32);
  const uint64_t mark_offset = mark & 0xffffffffu;
  return loc.segment > mark_segment ||
         (loc.segment == mark_segment && loc.offset + uint64_t{loc.size} > mark_offset);
}

Status Journal::ReadInto(const RecordLocation& loc, RecordHeader* h, char* payload,
                         size_t payload_len) {
  const PayloadSealer* sealer = options_.sealer.get();
  if (loc.size != kRecordHeaderSize + payload_len + (sealer ? kSealOverhead : 0)) {
    return Status::Corruption("segment " + SegmentFileName(loc.segment) + " offset " +
                              std::to_string(loc.offset) + ": index names a record of another size");
  }
  if (MaybeBuffered(loc)) {
    thread_local std::string record;
    RPFS_RETURN_IF_ERROR(Read(loc, h, &record));
    std::memcpy(payload, record.data() + kRecordHeaderSize, payload_len);
    return Status::OK();
  }
  int fd;
  RPFS_RETURN_IF_ERROR(SegmentFd(loc.segment, &fd));
  return ReadRecordInto(fd, loc.segment, loc.offset, h, payload, payload_len, sealer);
}

Status Journal::Read(const RecordLocation& loc, RecordHeader* h, std::string* record) {
  RPFS_RETURN_IF_ERROR(ReadRaw(loc, h, record));
  if (options_.sealer == nullptr && !(h->flags & kSealed)) return Status::OK();  // the common case
  return OpenRecordInPlace(options_.sealer.get(),
                           "segment " + SegmentFileName(loc.segment) + " offset " +
                               std::to_string(loc.offset),
                           h, record);
}

Status Journal::ReadRaw(const RecordLocation& loc, RecordHeader* h, std::string* record) {
  if (MaybeBuffered(loc)) {
    // Possibly still in the append buffer.
    std::lock_guard<std::mutex> l(mu_);
    if (loc.segment == writer_->segment() && loc.offset + uint64_t{loc.size} > writer_->flushed()) {
      record->resize(loc.size);
      if (!writer_->ReadBuffered(loc.offset, loc.size, record->data())) {
        return Status::Corruption("segment " + SegmentFileName(loc.segment) + " offset " +
                                  std::to_string(loc.offset) + ": record beyond the journal end");
      }
      const auto* hdr = reinterpret_cast<const uint8_t*>(record->data());
      if (!RecordIsWhole(hdr, hdr + kRecordHeaderSize, loc.size, h)) {
        return Status::Corruption("segment " + SegmentFileName(loc.segment) + " offset " +
                                  std::to_string(loc.offset) + ": buffered record does not match");
      }
      return Status::OK();
    }
  }
  int fd;
  RPFS_RETURN_IF_ERROR(SegmentFd(loc.segment, &fd));
  return ReadRecordAt(fd, loc.segment, loc.offset, loc.size, h, record);
}

Status Journal::ReadRawMany(const RecordLocation* locs, size_t n, std::string* batch,
                            std::vector<size_t>* offsets, std::vector<RecordHeader>* headers) {
  offsets->resize(n);
  headers->resize(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    (*offsets)[i] = total;
    total += locs[i].size;
  }
  batch->resize(total);
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::tie(locs[a].segment, locs[a].offset) < std::tie(locs[b].segment, locs[b].offset);
  });
  std::vector<iovec> iovs(n);  // never reallocated: the requests point into it
  std::vector<ReadRequest> reqs;
  for (size_t k = 0; k < n; ++k) {
    const RecordLocation& loc = locs[order[k]];
    iovs[k] = iovec{batch->data() + (*offsets)[order[k]], loc.size};
    if (k > 0) {
      const RecordLocation& prev = locs[order[k - 1]];
      ReadRequest& last = reqs.back();
      if (prev.segment == loc.segment && uint64_t{prev.offset} + prev.size == loc.offset &&
          last.iovcnt < 64) {
        ++last.iovcnt;
        last.want += loc.size;
        continue;
      }
    }
    int fd;
    RPFS_RETURN_IF_ERROR(SegmentFd(loc.segment, &fd));
    reqs.push_back(ReadRequest{fd, loc.offset, &iovs[k], 1, loc.size, 0});
  }
  ReadQueue::ReadAll(reqs.data(), reqs.size());
  size_t k = 0;
  for (const ReadRequest& r : reqs) {
    uint64_t at = 0;
    for (int j = 0; j < r.iovcnt; ++j, ++k) {
      const uint32_t i = order[k];
      const RecordLocation& loc = locs[i];
      char* rec = batch->data() + (*offsets)[i];
      const auto* hdr = reinterpret_cast<const uint8_t*>(rec);
      at += loc.size;
      if (r.result >= 0 && static_cast<uint64_t>(r.result) >= at &&
          RecordIsWhole(hdr, hdr + kRecordHeaderSize, loc.size, &(*headers)[i])) {
        continue;
      }
      std::string record;
      RPFS_RETURN_IF_ERROR(ReadRaw(loc, &(*headers)[i], &record));
      if (record.size() != loc.size) {
        return Status::Corruption("segment " + SegmentFileName(loc.segment) + " offset " +
                                  std::to_string(loc.offset) + ": record size changed");
      }
      std::copy(record.begin(), record.end(), rec);
    }
  }
  return Status::OK();
}

}  // namespace rpfs::journal
