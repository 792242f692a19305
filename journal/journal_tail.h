// JournalTail reads a journal's records in journal order from a position,
// up to a limit the caller knows to be durable, across segment files. It
// is how replication follows a vault's writes (tools/replication/replication_source.cc)
// while the vault keeps appending: records before the limit are in the
// files, so it never takes the journal's lock.
//
// Every record is checked (crc, bounds) as in SegmentReader. A segment
// missing on the way (compaction retired it: the follower fell too far
// behind) is NotFound naming it; a bad record is Corruption naming the
// segment and offset. Not thread-safe; one per follower.
#pragma once

#include <memory>
#include <string>

#include "journal/journal.h"
#include "journal/segment_reader.h"

namespace rpfs::journal {

class JournalTail {
 public:
  JournalTail(Journal* journal, JournalPos from);
  ~JournalTail();

  // The next record before `limit` into *h and *payload; *got false when
  // the tail has reached the limit.
  Status Next(JournalPos limit, RecordHeader* h, std::string* payload, bool* got);

  // Just after the last record returned.
  JournalPos pos() const { return pos_; }

 private:
  Status OpenSegment(uint32_t segment);

  Journal* journal_;
  JournalPos pos_;
  int fd_ = -1;
  uint32_t fd_segment_ = 0;
  uint64_t reader_limit_ = 0;  // the file size the reader was made with
  std::unique_ptr<SegmentReader> reader_;
};

}  // namespace rpfs::journal
