#include "journal/recovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "journal/segment_reader.h"

namespace rpfs::journal {
namespace {

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string Where(uint32_t segment, uint64_t offset) {
  return "segment " + SegmentFileName(segment) + " offset " + std::to_string(offset);
}

// True if a whole, valid record starts right after the bad one at `bad`:
// then the damage is in the middle of the segment, not a torn tail.
bool ValidRecordFollows(int fd, uint64_t file_size, uint64_t bad) {
  uint8_t hdr[kRecordHeaderSize];
  if (::pread(fd, hdr, sizeof hdr, static_cast<off_t>(bad)) != static_cast<ssize_t>(sizeof hdr)) {
    return false;
  }
  RecordHeader h;
  std::string why;
  if (!DecodeRecordHeader(hdr, &h, &why)) return false;
  uint64_t next = bad + kRecordHeaderSize + h.payload_len;
  if (next >= file_size) return false;
  SegmentReader r(fd, file_size, next);
  std::string payload;
  uint64_t off;
  return r.Next(&h, &payload, &off, &why) == SegmentReader::Result::kRecord;
}

// True if the segment at `path` never got its header onto the disk: it is
// shorter than one, or the header's bytes are all zero (the file's size
// reached the disk, its first block did not). A roll does not sync the
// new segment, so a crash can leave either; no record in it was synced.
Status HeaderNeverWritten(const std::string& path, uint64_t size, bool* never) {
  *never = true;
  if (size < kSegmentHeaderSize) return Status::OK();
  Fd fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) return Status::FromErrno(errno, "open " + path);
  uint8_t hdr[kSegmentHeaderSize];
  if (::pread(fd.fd, hdr, sizeof hdr, 0) != static_cast<ssize_t>(sizeof hdr)) {
    return Status::FromErrno(errno, "read " + path);
  }
  *never = std::all_of(hdr, hdr + sizeof hdr, [](uint8_t b) { return b == 0; });
  return Status::OK();
}

// True if the segment at `path` holds a valid record after its header:
// then it cannot be a roll whose predecessor never became durable.
bool HoldsRecords(const std::string& path) {
  Fd fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd.fd < 0 || ::fstat(fd.fd, &st) != 0) return true;  // unknown: assume it does
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  SegmentReader r(fd.fd, size, kSegmentHeaderSize);
  RecordHeader h;
  std::string payload, why;
  uint64_t off;
  SegmentReader::Result got = r.Next(&h, &payload, &off, &why);
  return got == SegmentReader::Result::kRecord ||
         (got == SegmentReader::Result::kBad && ValidRecordFollows(fd.fd, size, r.offset()));
}

}  // namespace

Status ListSegments(const std::string& dir, const std::vector<uint32_t>& retired,
                    std::vector<uint32_t>* segments) {
  segments->clear();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "open journal directory " + dir);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() != 12 || name.substr(8) != ".seg") continue;
    char* end = nullptr;
    unsigned long n = std::strtoul(name.c_str(), &end, 10);
    if (end != name.c_str() + 8 || n == 0 || n > UINT32_MAX) continue;
    segments->push_back(static_cast<uint32_t>(n));
  }
  ::closedir(d);
  std::sort(segments->begin(), segments->end());
  const std::set<uint32_t> gone(retired.begin(), retired.end());
  std::vector<uint32_t> kept;
  for (uint32_t seg : *segments) {
    if (!gone.count(seg)) {
      kept.push_back(seg);
      continue;
    }
    // Retired, but the crash came before the unlink.
    const std::string path = dir + "/" + SegmentFileName(seg);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "remove " + path);
  }
  *segments = kept;
  for (size_t i = 1; i < segments->size(); ++i) {
    for (uint32_t n = (*segments)[i - 1] + 1; n < (*segments)[i]; ++n) {
      if (!gone.count(n)) {
        return Status::Corruption("journal " + dir + ": segment " + SegmentFileName(n) +
                                  " is missing");
      }
    }
  }
  return Status::OK();
}

Status RecoverTail(const std::string& dir, const VaultId& id, std::vector<uint32_t>* segments,
                   JournalPos replay_from, uint64_t replay_seq, const RecordVisitor& visit,
                   RecoveryReport* report, const PayloadSealer* sealer) {
  *report = RecoveryReport();
  // A newest segment whose header never reached the disk is a roll that
  // never became durable; it holds no synced records, so it goes.
  while (segments->size() > 1) {
    std::string path = dir + "/" + SegmentFileName(segments->back());
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
    bool never;
    RPFS_RETURN_IF_ERROR(HeaderNeverWritten(path, static_cast<uint64_t>(st.st_size), &never));
    if (!never) break;
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "remove " + path);
    report->dropped_bytes += static_cast<uint64_t>(st.st_size);
    report->dropped_where = Where(segments->back(), 0) + ": segment header torn";
    segments->pop_back();
  }
  const uint32_t last = segments->back();
  // The segment before the newest may be sealed but not yet durable (its
  // fdatasync is deferred, see Journal): a crash can tear its tail while
  // the newest holds nothing yet.
  const uint32_t sealed = segments->size() > 1 ? (*segments)[segments->size() - 2] : 0;
  uint32_t sealed_scanned = 0;  // == sealed once its records were read
  for (uint32_t seg : *segments) {
    if (seg < replay_from.segment && seg != last) continue;
    std::string name = SegmentFileName(seg);
    std::string path = dir + "/" + name;
    Fd fd;
    const int mode = seg == last || seg == sealed ? O_RDWR : O_RDONLY;
    fd.fd = ::open(path.c_str(), mode | O_CLOEXEC);
    if (fd.fd < 0) return Status::FromErrno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd.fd, &st) != 0) return Status::FromErrno(errno, "stat " + path);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    SegmentHeader sh;
    RPFS_RETURN_IF_ERROR(ReadSegmentHeader(fd.fd, name, &sh));
    if (sh.segment != seg) {
      return Status::Corruption(Where(seg, 0) + ": header names segment " + std::to_string(sh.segment));
    }
    if (!(sh.vault_id == id)) {
      return Status::Corruption(Where(seg, 0) + ": segment belongs to vault " + sh.vault_id.ToHex());
    }
    const bool after_scanned_seal = seg == last && sealed != 0 && sealed_scanned == sealed;
    if (after_scanned_seal && sh.first_seq > std::max(report->last_seq, replay_seq) + 1 &&
        HoldsRecords(path)) {
      // The sealed segment ends early, yet newer records reached the disk.
      return Status::Corruption(Where(seg, 0) + ": starts at seq " + std::to_string(sh.first_seq) +
                                " but segment " + SegmentFileName(sealed) + " ends at seq " +
                                std::to_string(report->last_seq));
    }
    // Every seq before first_seq was appended before this segment.
    if (sh.first_seq > 0) report->last_seq = std::max(report->last_seq, sh.first_seq - 1);

    uint64_t start = kSegmentHeaderSize;
    if (seg != last && seg == replay_from.segment) start = std::max(start, replay_from.offset);
    SegmentReader reader(fd.fd, size, start, sealer);
    RecordHeader h;
    std::string payload;
    uint64_t off;
    std::string why;
    SegmentReader::Result r;
    while ((r = reader.Next(&h, &payload, &off, &why)) == SegmentReader::Result::kRecord) {
      // Max, not last: a compaction copy carries an older seq and time.
      report->last_seq = std::max(report->last_seq, h.seq);
      if (!(h.flags & kCopy)) report->last_time_ns = std::max(report->last_time_ns, h.time_ns);
      if (JournalPos{seg, off} < replay_from) continue;
      // The stored size: h is the plaintext's.
      RecordLocation loc{seg, static_cast<uint32_t>(off),
                         static_cast<uint32_t>(reader.offset() - off)};
      RPFS_RETURN_IF_ERROR(visit(h, payload, loc));
      ++report->replayed;
    }
    if (r == SegmentReader::Result::kBad) {
      uint64_t bad = reader.offset();
      if (reader.bad_seal()) return Status::Corruption(Where(seg, bad) + ": " + why);
      const std::string newest = dir + "/" + SegmentFileName(last);
      const bool torn_seal = seg == sealed && !ValidRecordFollows(fd.fd, size, bad) &&
                             !HoldsRecords(newest);
      if (torn_seal) {
        // Nothing after the tear was ever synced (Sync makes the sealed
        // segment durable first): cut it and drop the empty newest one.
        struct stat nst;
        uint64_t newest_size = 0;
        if (::stat(newest.c_str(), &nst) == 0) newest_size = static_cast<uint64_t>(nst.st_size);
        if (::ftruncate(fd.fd, static_cast<off_t>(bad)) != 0 || ::fdatasync(fd.fd) != 0) {
          return Status::FromErrno(errno, "cut torn tail of " + path);
        }
        if (::unlink(newest.c_str()) != 0) return Status::FromErrno(errno, "remove " + newest);
        segments->pop_back();
        report->dropped_bytes += size - bad + newest_size;
        report->dropped_where = Where(seg, bad) + ": " + why + " (and the empty segment " +
                                SegmentFileName(last) + " after it)";
        report->end = JournalPos{seg, bad};
        return Status::OK();
      }
      if (seg != last || ValidRecordFollows(fd.fd, size, bad)) {
        return Status::Corruption(Where(seg, bad) + ": " + why);
      }
      if (::ftruncate(fd.fd, static_cast<off_t>(bad)) != 0 || ::fdatasync(fd.fd) != 0) {
        return Status::FromErrno(errno, "cut torn tail of " + path);
      }
      report->dropped_bytes += size - bad;
      report->dropped_where = Where(seg, bad) + ": " + why;
    }
    if (seg == sealed) sealed_scanned = seg;
    if (seg == last) report->end = JournalPos{seg, reader.offset()};
  }
  return Status::OK();
}

}  // namespace rpfs::journal
