#include "tools/images/image_import.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "journal/block_encoder.h"
#include "journal/page_populate.h"
#include "journal/payload_codec.h"
#include "tools/images/ordered_pipeline.h"

namespace rpfs::tools {
namespace {

// Batches handed to the encoders and not yet appended: enough to keep
// every core busy while the reader waits on the image or the appender on
// the disk, few enough to bound memory (each holds up to kImportWriteBytes
// of data and as much room for their compressed blocks).
constexpr size_t kBatchesInFlight = 8;
// A batch is written in pieces of this size (whole blocks), each one
// Vault::WriteEncoded: the write lock is held for one piece at a time.
constexpr uint64_t kWritePieceBytes = uint64_t{512} << 10;
// Index versions pending before the import has the vault flush them in
// the background: the flushes then overlap the writing, and the last one,
// which nothing overlaps, stays small: 64 MiB of blocks at 4 KiB, about
// 5 ms of LMDB work (at 1 << 16 the last flush took ~20 ms of the ~85 ms
// tail of a 2 GiB import). (The vault's own threshold, sized for the live
// disks' random writes, would leave up to 1 GiB of an import's blocks to
// the flush at its end.)
constexpr size_t kIndexFlushEntries = size_t{1} << 14;

// Where a piece of a batch goes on the disk (see CutPieces).
struct Piece {
  uint64_t offset;
  const char* data;
  size_t size;
};

// What the reader found in a stretch of the image: the data, and where
// each stretch of it goes on the disk. Whole zero blocks are left out (a
// new disk reads them as zeros): not stored, and not copied either, or
// left unused in `bytes` where the image reader read its run straight
// into the batch. An encoder adds the pieces and their encoded blocks.
struct Batch {
  struct Stretch {
    uint64_t offset;  // on the disk
    size_t at;        // in bytes
    size_t size;
  };
  // kImportWriteBytes, the first `used` filled. Not initialized.
  std::unique_ptr<char[]> bytes;
  size_t used = 0;
  // Where the encoders put compressed blocks: kImportWriteBytes, each
  // piece's blocks at the piece's own place in bytes (Vault::EncodeWrite
  // packs them there). Not initialized: only the pages written are touched.
  std::unique_ptr<char[]> room;
  std::vector<Stretch> stretches;
  uint64_t reached = 0;  // the disk offset the image was read to
  std::vector<Piece> pieces;
  // Per piece: its encoded blocks (they refer into bytes), the first
  // counts[i] of encoded[i]. Reused with the batch: they only grow.
  std::vector<std::vector<journal::EncodedBlock>> encoded;
  std::vector<size_t> counts;
};

// Batches in, the same batches encoded out.
using EncodePipeline = OrderedPipeline<Batch, Batch>;

// Batches whose buffers can be filled again, so an import allocates a few
// buffers in all: as many as can be in flight at once, so none is freed
// only to be allocated (and faulted in) again.
class SpareBatches {
 public:
  void GiveBack(Batch b) {
    std::lock_guard<std::mutex> l(mu_);
    if (spare_.size() < kBatchesInFlight) spare_.push_back(std::move(b));
  }
  Batch Take() {
    Batch b;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!spare_.empty()) {
        b = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    b.used = 0;
    b.stretches.clear();
    b.pieces.clear();
    if (b.room == nullptr) {  // a new batch
      b.bytes.reset(new char[kImportWriteBytes]);
      journal::PopulatePages(b.bytes.get(), kImportWriteBytes);
      b.room.reset(new char[kImportWriteBytes]);
    }
    return b;
  }

 private:
  std::mutex mu_;
  std::vector<Batch> spare_;
};

// On the reader thread: takes the non-zero blocks of the image's runs
// into batches of up to kImportWriteBytes of data.
class BatchBuilder {
 public:
  BatchBuilder(EncodePipeline* pipeline, SpareBatches* spares, uint64_t block_size)
      : pipeline_(pipeline), spares_(spares), bs_(block_size), batch_(spares->Take()) {}

  // Offers the image the batch's free room for its next run (sealing a
  // full batch first), so that a reader of raw bytes reads them straight
  // into the batch instead of into its own buffer and then here. False
  // once the import gave up.
  bool OfferRoom(fs::ImageReader& image) {
    if (kImportWriteBytes - batch_.used < kMinRoom && !Seal()) return false;
    const size_t free = (kImportWriteBytes - batch_.used) / bs_ * bs_;
    if (free > 0) image.OfferRoom(batch_.bytes.get() + batch_.used, free);
    return true;
  }

  // False once the import gave up. Blocks are the vault's, on absolute
  // boundaries; a run that starts or ends inside a block gives a partial
  // piece, written as it is (the vault merges it).
  bool Add(const fs::ImageRun& run) {
    const uint64_t end = run.offset + run.size;
    // Read into the room offered: the run's bytes are the batch's already.
    const bool in_place = run.data == batch_.bytes.get() + batch_.used;
    const size_t base = batch_.used;
    if (in_place) batch_.used += run.size;
    uint64_t data_from = end;  // start of the non-zero stretch being walked; end: none
    for (uint64_t pos = run.offset; pos < end;) {
      const uint64_t piece_end = std::min(end, (pos / bs_ + 1) * bs_);
      const bool zero = journal::IsAllZero(run.data + (pos - run.offset),
                                           static_cast<size_t>(piece_end - pos));
      if (!zero && data_from == end) data_from = pos;
      if (zero && data_from != end) {
        if (!Take(run, in_place, base, data_from, pos)) return false;
        data_from = end;
      }
      pos = piece_end;
    }
    if (data_from != end && !Take(run, in_place, base, data_from, end)) return false;
    batch_.reached = end;
    // Long stretches of zeros still move the progress on.
    if (batch_.reached - sealed_at_ >= kProgressBytes) return Seal();
    return true;
  }

  // Hands the batch over.
  bool Seal() {
    if (batch_.used == 0 && batch_.reached == sealed_at_) return true;
    sealed_at_ = batch_.reached;
    if (!pipeline_->Push(std::move(batch_))) return false;
    batch_ = spares_->Take();
    batch_.reached = sealed_at_;  // the next batch goes on from there
    return true;
  }

 private:
  static constexpr uint64_t kProgressBytes = uint64_t{256} << 20;
  // Less free room than this, and the batch is sealed rather than offered
  // (a reader's runs would get short).
  static constexpr size_t kMinRoom = size_t{64} << 10;

  // Adds the run's bytes [from, to) (disk offsets) to the batch: where
  // they are if the run was read in place (its first byte at `base`),
  // else copied in, sealing full batches at block boundaries.
  bool Take(const fs::ImageRun& run, bool in_place, size_t base, uint64_t from, uint64_t to) {
    if (in_place) {
      AddStretch(from, base + static_cast<size_t>(from - run.offset),
                 static_cast<size_t>(to - from));
      return true;
    }
    while (from < to) {
      if (batch_.used >= kImportWriteBytes && !Seal()) return false;
      uint64_t n = std::min<uint64_t>(to - from, kImportWriteBytes - batch_.used);
      if (n < to - from && (from + n) / bs_ * bs_ > from) n = (from + n) / bs_ * bs_ - from;
      AddStretch(from, batch_.used, static_cast<size_t>(n));
      std::memcpy(batch_.bytes.get() + batch_.used, run.data + (from - run.offset), n);
      batch_.used += n;
      batch_.reached = from + n;
      from += n;
    }
    return true;
  }

  // Bytes [at, at + n) of the batch go to disk offset `offset`; extends
  // the last stretch if they follow it both on the disk and in the batch.
  void AddStretch(uint64_t offset, size_t at, size_t n) {
    std::vector<Batch::Stretch>& st = batch_.stretches;
    if (!st.empty() && st.back().offset + st.back().size == offset &&
        st.back().at + st.back().size == at) {
      st.back().size += n;
    } else {
      st.push_back(Batch::Stretch{offset, at, n});
    }
  }

  EncodePipeline* pipeline_;
  SpareBatches* spares_;
  const uint64_t bs_;
  Batch batch_;
  uint64_t sealed_at_ = 0;  // batch_.reached when last sealed
};

// Cuts a batch's stretches at multiples of `piece` (whole blocks) on the
// disk, so only a stretch's own ends can be partial blocks.
void CutPieces(const Batch& b, uint64_t piece, std::vector<Piece>* out) {
  out->clear();
  for (const Batch::Stretch& st : b.stretches) {
    const uint64_t to = st.offset + st.size;
    for (uint64_t at = st.offset; at < to;) {
      const uint64_t end = std::min(to, (at / piece + 1) * piece);
      out->push_back(Piece{at, b.bytes.get() + st.at + (at - st.offset),
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
  const uint64_t bs = vault.block_size();
  const uint64_t piece = std::max<uint64_t>(kWritePieceBytes / bs, 1) * bs;
  // One encoder per core, each on its own batch (zero tests and
  // compression: most of the CPU), and the journal appends on this thread,
  // in batch order: no encoder waits for the write lock while another
  // appends, so the cores stay busy. Batches never share a byte, so their
  // order does not matter for the data; two that share a block are merged
  // by the vault.
  const unsigned encoders = std::max(2u, std::thread::hardware_concurrency());
  EncodePipeline pipeline(encoders, kBatchesInFlight, [&](unsigned, Batch& b, Batch* out) {
    CutPieces(b, piece, &b.pieces);
    if (b.encoded.size() < b.pieces.size()) b.encoded.resize(b.pieces.size());
    b.counts.resize(b.pieces.size());
    for (size_t i = 0; i < b.pieces.size(); ++i) {
      const Piece& p = b.pieces[i];
      char* room = b.room.get() + (p.data - b.bytes.get());
      b.counts[i] = vault.EncodeWrite(disk.id, p.offset, p.data, p.size, &b.encoded[i], room);
    }
    *out = std::move(b);
  });
  SpareBatches spares;
  Status read_status;
  // The reader thread reads the image (and finds its zero blocks) while
  // the encoders encode the batches before.
  std::thread reader([&] {
    BatchBuilder builder(&pipeline, &spares, bs);
    const Status stopped = Status::Internal("import stopped");  // the main thread says why
    Status s;
    for (;;) {
      fs::ImageRun run;
      bool end;
      if (!builder.OfferRoom(image)) {
        s = stopped;
        break;
      }
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
    read_status = std::move(s);
    pipeline.Close();  // the encoders drain what was pushed
  });

  struct Joiner {  // however this thread leaves, the reader is stopped first
    EncodePipeline& pipeline;
    std::thread& thread;
    ~Joiner() {
      if (!thread.joinable()) return;
      pipeline.Cancel();
      thread.join();
    }
  } joiner{pipeline, reader};

  Status s;
  Batch b;
  while (s.ok() && pipeline.Pop(&b)) {
    for (size_t i = 0; i < b.pieces.size() && s.ok(); ++i) {
      const Piece& p = b.pieces[i];
      s = vault.WriteEncoded(disk.id, p.offset, p.data, p.size, b.encoded[i].data(), b.counts[i]);
      if (s.ok()) result->data_bytes += p.size;
    }
    if (!s.ok()) {
      pipeline.Cancel();
      break;
    }
    vault.RequestIndexFlush(kIndexFlushEntries);
    if (progress) progress(b.reached, capacity);
    spares.GiveBack(std::move(b));
  }
  reader.join();
  RPFS_RETURN_IF_ERROR(s);
  RPFS_RETURN_IF_ERROR(read_status);
  return vault.Sync();
}

}  // namespace rpfs::tools
