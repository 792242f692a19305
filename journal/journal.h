// Journal: the vault's append-only sequence of segments, the source of
// truth for every byte ever written.
//
// Append() is buffered and returns at once; Sync() makes every record
// appended before it durable, and concurrent Sync() calls share one
// fdatasync (group commit). A full segment is sealed without waiting for
// the disk: a thread of the journal's own fdatasyncs it (or the next
// Sync() does, whichever comes first). At most one sealed segment is ever
// not yet durable: the next roll waits for it. There is no write-behind of
// the live segment (sync_file_range every few MiB): on the VM this was
// measured on it made a 1 GiB sequential write 30% slower, even off the
// append lock, while the sealer's per-segment fdatasyncs already keep the
// device busy and bound what a Sync() owes. Read() serves any
// record by location, from the file or, if not yet flushed, from the
// append buffer. Open() recovers (see recovery.h): it scans the newest
// segment (and any segment at or after `replay_from`), hands every record
// at or after `replay_from` to a visitor so the catalog can index it, and
// cuts a torn tail, reporting the bytes dropped. Retire() deletes an old
// segment whose live records compaction has copied forward; the numbers
// of retired segments are the caller's to keep (Open must be told them,
// to tell a retired segment from a lost one).
// With a PayloadSealer in its options (an encrypted vault) the journal
// seals every payload it appends and opens every payload it reads: the
// headers and payloads it hands out (Read, ReadInto, the recovery
// visitor) are plaintext, kSealed cleared; only locations (sizes) count
// the stored bytes. ReadRaw/AppendRaw move a record as stored (sealed or
// not) for compaction's copies.
// Thread-safe.
#pragma once

#include <atomic>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "journal/payload_sealer.h"
#include "journal/record_format.h"
#include "journal/segment_writer.h"
#include "journal/status.h"

namespace rpfs::journal {

// A position in the journal: segment number and byte offset. Ordered.
struct JournalPos {
  uint32_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const JournalPos&) const = default;
};

// Where a record lives; size counts header and payload.
struct RecordLocation {
  uint32_t segment = 0;
  uint32_t offset = 0;
  uint32_t size = 0;
};

struct JournalOptions {
  uint64_t max_segment_bytes = 64ull << 20;
  // Seals payloads (an encrypted vault); null: payloads stored as given.
  std::shared_ptr<PayloadSealer> sealer;
};

struct RecoveryReport {
  uint64_t dropped_bytes = 0;  // torn tail cut off the newest segment
  std::string dropped_where;   // "segment 00000003.seg offset 4096: <reason>"
  uint64_t last_seq = 0;       // seq of the newest surviving record (0: none)
  uint64_t last_time_ns = 0;   // the newest time of a record scanned (copies aside)
  uint64_t replayed = 0;       // records handed to the visitor
  JournalPos end;              // where the next record will go
};

using RecordVisitor = std::function<Status(const RecordHeader&, const std::string& payload,
                                           const RecordLocation&)>;

class Journal {
 public:
  // Creates dir with an empty first segment.
  static Status Create(const std::string& dir, const VaultId& id, const JournalOptions& options,
                       std::unique_ptr<Journal>* out);
  // `replay_seq`: the highest seq of the records before replay_from (the
  // caller indexed them). `retired`: segments deleted by Retire (a file
  // still there is deleted now: the crash came between the caller's note
  // and the unlink).
  static Status Open(const std::string& dir, const VaultId& id, const JournalOptions& options,
                     JournalPos replay_from, uint64_t replay_seq,
                     const std::vector<uint32_t>& retired,
                     const RecordVisitor& visit, RecoveryReport* report,
                     std::unique_ptr<Journal>* out);
  ~Journal();

  // Appends one record (sealing its payload if the journal seals); fills
  // *loc. The crc is computed here. A run of one (AppendRun).
  Status Append(const RecordHeader& h, const void* payload, RecordLocation* loc);
  // Appends records [0, n) in order, each as Append would, under one
  // lock: the blocks of one write call. Seals and headers (crcs) are made
  // before the lock is taken, on every core for a long run; a run longer
  // than SegmentWriter::kDirectRun goes from the payloads straight to the file (one
  // pwritev), not through the segment's buffer. *appended: how many went
  // in (their locs filled), on an error too.
  Status AppendRun(const RecordHeader* hs, const void* const* payloads, size_t n,
                   RecordLocation* locs, size_t* appended);
  // Appends a record as ReadRaw gave it (h its stored header, payload its
  // stored bytes), e.g. a copy with kCopy added: nothing is sealed again.
  Status AppendRaw(const RecordHeader& h, const void* payload, RecordLocation* loc);
  // Makes every record appended so far durable.
  Status Sync();
  // Reads and checks the record at loc into *record (header, then payload
  // at kRecordHeaderSize). Records already in the file are read without
  // taking the append lock.
  Status Read(const RecordLocation& loc, RecordHeader* h, std::string* record);
  // Read without opening a sealed payload: the record as stored, crc
  // checked.
  Status ReadRaw(const RecordLocation& loc, RecordHeader* h, std::string* record);
  // ReadRaw for many records at once: all issued together (sorted by
  // place, records that touch in a file joined into one read, at most 64
  // a read; journal/read_queue.h) into *batch, record i at (*offsets)[i]
  // with its stored header in (*headers)[i], each checked whole
  // (RecordIsWhole). One the batch did not get whole is read again alone
  // by ReadRaw, which reads the append buffer or names the damage. The
  // caller keeps the segments from being retired meanwhile.
  Status ReadRawMany(const RecordLocation* locs, size_t n, std::string* batch,
                     std::vector<size_t>* offsets, std::vector<RecordHeader>* headers);

  // Reads a record whose (plaintext) payload is exactly payload_len bytes
  // straight into `payload`; checks crc, length and seal.
  Status ReadInto(const RecordLocation& loc, RecordHeader* h, char* payload, size_t payload_len);

  JournalPos end() const;
  const std::string& dir() const { return dir_; }
  // For readers that frame records themselves (verify, batched scans):
  // null if the journal does not seal.
  const PayloadSealer* sealer() const { return options_.sealer.get(); }
  // Numbers of the segment files, oldest first.
  std::vector<uint32_t> Segments() const;
  std::string SegmentPath(uint32_t segment) const;
  // A read-only descriptor of the segment file, opened on first use and
  // kept until Retire: for readers that issue their own reads
  // (catalog/block_fetch.h), which must hold off Retire meanwhile.
  Status SegmentFd(uint32_t segment, int* fd);
  // Closes and deletes a sealed segment. The caller guarantees that no
  // reader still holds a location in it.
  Status Retire(uint32_t segment);

 private:
  Journal(std::string dir, const VaultId& id, const JournalOptions& options);
  JournalPos EndLocked() const;
  void PublishFlushedLocked();
  Status Roll(uint64_t first_seq);  // seals the current segment, starts a new one
  // Rolls (waiting for the sealer if it must) until the current segment
  // has room for `bytes` more, or is empty. `seq`: the record's.
  Status MakeRoomLocked(std::unique_lock<std::mutex>& l, uint64_t bytes, uint64_t seq);
  // A run this long has its records encoded on every core (AppendRun).
  static constexpr size_t kParallelRun = 64;
  Status FinishSealLocked();       // makes sealing_ durable, here
  void SealedLocked(const std::shared_ptr<SegmentWriter>& sealed);
  void SealerLoop();
  bool MaybeBuffered(const RecordLocation& loc) const;

  const std::string dir_;
  const VaultId id_;
  const JournalOptions options_;

  mutable std::mutex mu_;  // guards writer_, sealing_, synced_, syncing_, segments_
  std::condition_variable sync_done_;
  std::shared_ptr<SegmentWriter> writer_;
  std::shared_ptr<SegmentWriter> sealing_;  // sealed, fdatasync still owed
  std::condition_variable seal_cv_;  // sealing_ changed, or stop
  bool seal_failed_ = false;         // the sealer's fdatasync failed: Roll/Sync retry inline
  bool stop_sealer_ = false;
  std::thread sealer_;
  std::vector<uint32_t> segments_;
  uint64_t max_seq_ = 0;  // highest seq appended or recovered (copies carry old ones)
  JournalPos synced_;
  bool syncing_ = false;
  // (segment << 32) | bytes of it in the file: everything before this
  // mark can be pread without the lock. Published after each flush.
  std::atomic<uint64_t> flushed_mark_{0};

  std::shared_mutex fds_mu_;  // read descriptors, opened lazily
  std::map<uint32_t, int> read_fds_;
};

}  // namespace rpfs::journal
