#include "journal/journal_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace rpfs::journal {

JournalTail::JournalTail(Journal* journal, JournalPos from) : journal_(journal), pos_(from) {
  if (pos_.offset < kSegmentHeaderSize) pos_.offset = kSegmentHeaderSize;
}

JournalTail::~JournalTail() {
  if (fd_ >= 0) ::close(fd_);
}

Status JournalTail::OpenSegment(uint32_t segment) {
  if (fd_ >= 0) ::close(fd_);
  reader_.reset();
  fd_ = ::open(journal_->SegmentPath(segment).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) {
      return Status::NotFound("journal segment " + SegmentFileName(segment) +
                              " is gone (compaction retired it)");
    }
    return Status::FromErrno(errno, "open " + journal_->SegmentPath(segment));
  }
  fd_segment_ = segment;
  return Status::OK();
}

Status JournalTail::Next(JournalPos limit, RecordHeader* h, std::string* payload, bool* got) {
  *got = false;
  for (;;) {
    if (pos_ >= limit) return Status::OK();
    if (fd_ < 0 || fd_segment_ != pos_.segment) RPFS_RETURN_IF_ERROR(OpenSegment(pos_.segment));
    // Up to where this segment may be read: the limit in the limit's
    // segment, the whole (sealed) file before it.
    uint64_t end;
    if (pos_.segment == limit.segment) {
      end = limit.offset;
    } else {
      struct stat st;
      if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat segment");
      end = static_cast<uint64_t>(st.st_size);
    }
    if (!reader_ || reader_limit_ != end || reader_->offset() != pos_.offset) {
      reader_ = std::make_unique<SegmentReader>(fd_, end, pos_.offset, journal_->sealer());
      reader_limit_ = end;
    }
    uint64_t offset;
    std::string why;
    switch (reader_->Next(h, payload, &offset, &why)) {
      case SegmentReader::Result::kRecord:
        pos_.offset = reader_->offset();
        *got = true;
        return Status::OK();
      case SegmentReader::Result::kBad:
        return Status::Corruption("segment " + SegmentFileName(pos_.segment) + " offset " +
                                  std::to_string(reader_->offset()) + ": " + why);
      case SegmentReader::Result::kEnd:
        break;
    }
    if (pos_.segment == limit.segment) return Status::OK();
    // The next segment must be the next number: a gap is a retired one.
    std::vector<uint32_t> segs = journal_->Segments();
    auto it = std::upper_bound(segs.begin(), segs.end(), pos_.segment);
    if (it == segs.end() || *it > limit.segment) {
      return Status::NotFound("journal segment after " + SegmentFileName(pos_.segment) +
                              " is missing");
    }
    if (*it != pos_.segment + 1) {
      return Status::NotFound("journal segment " + SegmentFileName(pos_.segment + 1) +
                              " is gone (compaction retired it)");
    }
    pos_ = JournalPos{*it, kSegmentHeaderSize};
  }
}

}  // namespace rpfs::journal
