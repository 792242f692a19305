#include "tools/image_import.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "journal/payload_codec.h"
#include "journal/worker_pool.h"

namespace rpfs::tools {
namespace {

// Batches read ahead of the writers: enough to keep them busy while the
// reader waits on the image, few enough to bound memory.
constexpr size_t kQueuedBatches = 2;
// The writers share a batch in pieces of this size (whole blocks), each
// one Vault::Write: a 1 MiB stretch of data is two pieces, written (and
// compressed) on two cores at once.
constexpr uint64_t kWritePieceBytes = uint64_t{512} << 10;

// What the reader found in a stretch of the image: the data, back to
// back, and where each piece of it goes on the disk. Whole zero blocks are
// left out (a new disk reads them as zeros), so they are neither copied
// nor stored.
struct Batch {
  struct Stretch {
    uint64_t offset;  // on the disk
    size_t at;        // in bytes
    size_t size;
  };
  std::string bytes;
  std::vector<Stretch> stretches;
  uint64_t reached = 0;  // the disk offset the image was read to
};

// The hand-over between the reader thread and the writer. Batches go back
// to `spare` after use, so an import allocates a few buffers in all.
class BatchQueue {
 public:
  // Reader side. False once the writer gave up.
  bool Put(Batch* b) {
    std::unique_lock<std::mutex> l(mu_);
    room_.wait(l, [&] { return stopped_ || ready_.size() < kQueuedBatches; });
    if (stopped_) return false;
    const uint64_t reached = b->reached;
    ready_.push_back(std::move(*b));
    filled_.notify_one();
    *b = Batch();
    if (!spare_.empty()) {
      *b = std::move(spare_.back());
      spare_.pop_back();
    }
    b->bytes.clear();
    b->stretches.clear();
    b->reached = reached;  // the next batch goes on from there
    return true;
  }
  void Finish(Status s) {
    std::lock_guard<std::mutex> l(mu_);
    finished_ = true;
    read_status_ = std::move(s);
    filled_.notify_one();
  }

  // Writer side. False when the reader finished and everything was taken.
  bool Take(Batch* b) {
    std::unique_lock<std::mutex> l(mu_);
    filled_.wait(l, [&] { return finished_ || !ready_.empty(); });
    if (ready_.empty()) return false;
    *b = std::move(ready_.front());
    ready_.pop_front();
    room_.notify_one();
    return true;
  }
  void GiveBack(Batch b) {
    std::lock_guard<std::mutex> l(mu_);
    if (spare_.size() < 2) spare_.push_back(std::move(b));
  }
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    room_.notify_all();
  }
  Status read_status() {
    std::lock_guard<std::mutex> l(mu_);
    return read_status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable room_, filled_;
  std::deque<Batch> ready_;
  std::vector<Batch> spare_;
  bool stopped_ = false;   // the writer gave up
  bool finished_ = false;  // the reader is done
  Status read_status_;
};

// On the reader thread: takes the non-zero blocks of the image's runs
// into batches of up to kImportWriteBytes of data.
class BatchBuilder {
 public:
  BatchBuilder(BatchQueue* queue, uint64_t block_size) : queue_(queue), bs_(block_size) {
    batch_.bytes.reserve(kImportWriteBytes);
  }

  // False once the writers gave up. Blocks are the vault's, on absolute
  // boundaries; a run that starts or ends inside a block gives a partial
  // piece, written as it is (the vault merges it).
  bool Add(const fs::ImageRun& run) {
    const uint64_t end = run.offset + run.size;
    uint64_t data_from = end;  // start of the non-zero stretch being walked; end: none
    for (uint64_t pos = run.offset; pos < end;) {
      const uint64_t piece_end = std::min(end, (pos / bs_ + 1) * bs_);
      const bool zero = journal::IsAllZero(run.data + (pos - run.offset),
                                           static_cast<size_t>(piece_end - pos));
      if (!zero && data_from == end) data_from = pos;
      if (zero && data_from != end) {
        if (!Take(run, data_from, pos)) return false;
        data_from = end;
      }
      pos = piece_end;
    }
    if (data_from != end && !Take(run, data_from, end)) return false;
    batch_.reached = end;
    // Long stretches of zeros still move the progress on.
    if (batch_.reached - sealed_at_ >= kProgressBytes) return Seal();
    return true;
  }

  // Hands the batch over.
  bool Seal() {
    if (batch_.bytes.empty() && batch_.reached == sealed_at_) return true;
    sealed_at_ = batch_.reached;
    return queue_->Put(&batch_);
  }

 private:
  static constexpr uint64_t kProgressBytes = uint64_t{256} << 20;

  // Appends the run's bytes [from, to) (disk offsets), sealing full
  // batches at block boundaries.
  bool Take(const fs::ImageRun& run, uint64_t from, uint64_t to) {
    while (from < to) {
      if (batch_.bytes.size() >= kImportWriteBytes && !Seal()) return false;
      uint64_t n = std::min<uint64_t>(to - from, kImportWriteBytes - batch_.bytes.size());
      if (n < to - from && (from + n) / bs_ * bs_ > from) n = (from + n) / bs_ * bs_ - from;
      std::vector<Batch::Stretch>& st = batch_.stretches;
      if (!st.empty() && st.back().offset + st.back().size == from) {
        st.back().size += n;
      } else {
        st.push_back(Batch::Stretch{from, batch_.bytes.size(), static_cast<size_t>(n)});
      }
      batch_.bytes.append(run.data + (from - run.offset), n);
      batch_.reached = from + n;
      from += n;
    }
    return true;
  }

  BatchQueue* queue_;
  const uint64_t bs_;
  Batch batch_;
  uint64_t sealed_at_ = 0;  // batch_.reached when last sealed
};

// Cuts a batch's stretches at multiples of `piece` (whole blocks) on the
// disk, so only a stretch's own ends can be partial blocks.
struct Piece {
  uint64_t offset;
  const char* data;
  size_t size;
};
void CutPieces(const Batch& b, uint64_t piece, std::vector<Piece>* out) {
  out->clear();
  for (const Batch::Stretch& st : b.stretches) {
    const uint64_t to = st.offset + st.size;
    for (uint64_t at = st.offset; at < to;) {
      const uint64_t end = std::min(to, (at / piece + 1) * piece);
      out->push_back(Piece{at, b.bytes.data() + st.at + (at - st.offset),
                           static_cast<size_t>(end - at)});
      at = end;
    }
  }
}

}  // namespace

Status AsInputError(const Status& s) {
  if (s.code() == Status::Code::kCorruption) return Status::InvalidArgument(s.message());
  return s;
}

Status ImportImage(catalog::Vault& vault, const catalog::Disk& disk, fs::ImageReader& image,
                   ImportResult* result,
                   const std::function<void(uint64_t, uint64_t)>& progress) {
  *result = ImportResult();
  const uint64_t capacity = image.capacity();
  BatchQueue queue;
  // The reader thread reads the image (and finds its zero blocks) while
  // this one writes the batch before: the two overlap.
  std::thread reader([&] {
    BatchBuilder builder(&queue, vault.block_size());
    const Status stopped = Status::Internal("import stopped");  // the writer says why
    Status s;
    for (;;) {
      fs::ImageRun run;
      bool end;
      s = AsInputError(image.Next(&run, &end));
      if (!s.ok() || end) break;
      if (run.offset > disk.size || run.size > disk.size - run.offset) {
        s = Status::Internal("image run at " + std::to_string(run.offset) +
                             " is past the end of disk " + disk.name);
        break;
      }
      if (!builder.Add(run)) {
        s = stopped;
        break;
      }
    }
    if (s.ok() && !builder.Seal()) s = stopped;
    queue.Finish(std::move(s));
  });

  struct Joiner {  // however this thread leaves, the reader is stopped first
    BatchQueue& queue;
    std::thread& thread;
    ~Joiner() {
      if (!thread.joinable()) return;
      queue.Stop();
      thread.join();
    }
  } joiner{queue, reader};

  const uint64_t bs = vault.block_size();
  const uint64_t piece = std::max<uint64_t>(kWritePieceBytes / bs, 1) * bs;
  // Here: each batch's pieces written by several Vault::Write calls at
  // once, on the shared pool (one per core). A write's own encoding then
  // runs on its thread; the journal appends take turns (the write lock).
  // Pieces never share a byte, so their order does not matter; two that
  // share a block are merged by the vault under that lock.
  Status s;
  Batch b;
  std::vector<Piece> pieces;
  std::vector<Status> written;
  while (s.ok() && queue.Take(&b)) {
    CutPieces(b, piece, &pieces);
    written.assign(pieces.size(), Status::OK());
    journal::WorkerPool::Shared().Run(pieces.size(), [&](size_t i) {
      written[i] = vault.Write(disk.id, pieces[i].offset, pieces[i].data, pieces[i].size);
    });
    for (size_t i = 0; i < pieces.size() && s.ok(); ++i) {
      s = written[i];
      if (s.ok()) result->data_bytes += pieces[i].size;
    }
    if (s.ok() && progress) progress(b.reached, capacity);
    queue.GiveBack(std::move(b));
  }
  queue.Stop();
  reader.join();
  RPFS_RETURN_IF_ERROR(s);
  RPFS_RETURN_IF_ERROR(queue.read_status());
  return vault.Sync();
}

}  // namespace rpfs::tools
