#include "catalog/vault_verify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "journal/segment_reader.h"

namespace rpfs::catalog {
namespace {

std::string Where(uint32_t seg, uint64_t off) {
  return "segment " + journal::SegmentFileName(seg) + " offset " + std::to_string(off);
}

// Scans one segment file; returns bytes it could read as records.
Status VerifySegment(const std::string& path, uint32_t seg, const journal::VaultId& id,
                     const journal::PayloadSealer* sealer, VerifyReport* r) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r->problems.push_back("segment " + journal::SegmentFileName(seg) + ": cannot open: " +
                          std::strerror(errno));
    return Status::OK();
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::FromErrno(errno, "stat " + path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  r->bytes += size;
  journal::SegmentHeader sh;
  Status hs = journal::ReadSegmentHeader(fd, journal::SegmentFileName(seg), &sh);
  if (!hs.ok()) {
    r->problems.push_back(hs.message());
  } else if (sh.segment != seg || !(sh.vault_id == id)) {
    r->problems.push_back(Where(seg, 0) + ": header names another segment or vault");
  }
  uint64_t offset = journal::kSegmentHeaderSize;
  while (offset < size) {
    journal::SegmentReader reader(fd, size, offset, sealer);  // checks seals too
    journal::RecordHeader h;
    std::string payload, why;
    uint64_t off;
    journal::SegmentReader::Result res;
    while ((res = reader.Next(&h, &payload, &off, &why)) == journal::SegmentReader::Result::kRecord) {
      r->records++;
    }
    if (res == journal::SegmentReader::Result::kEnd) break;
    uint64_t bad = reader.offset();
    r->problems.push_back(Where(seg, bad) + ": " + why);
    // Skip the bad record if its length can be trusted enough to try.
    uint8_t hdr[journal::kRecordHeaderSize];
    journal::RecordHeader bh;
    if (::pread(fd, hdr, sizeof hdr, static_cast<off_t>(bad)) == static_cast<ssize_t>(sizeof hdr) &&
        journal::DecodeRecordHeader(hdr, &bh, &why) &&
        bad + journal::kRecordHeaderSize + bh.payload_len <= size) {
      offset = bad + journal::kRecordHeaderSize + bh.payload_len;
      continue;
    }
    r->problems.push_back(Where(seg, bad) + ": the remaining " + std::to_string(size - bad) +
                          " bytes of the segment cannot be framed");
    break;
  }
  ::close(fd);
  return Status::OK();
}

}  // namespace

Status VerifyVault(Vault& vault, bool deep, VerifyReport* r,
                   const std::function<void(uint64_t, uint64_t)>& progress) {
  *r = VerifyReport();
  Status flushed = vault.FlushIndex();
  if (!flushed.ok()) {
    // A full disk must not stop verify: what is on disk is checked; the
    // writes still in memory wait for space (and are not acknowledged as
    // durable until then).
    r->warnings.push_back("could not flush the index first (" + flushed.ToString() +
                          "): checked what is on disk; recent writes still in memory were not");
  }
  auto hold = vault.HoldSegments();  // no compaction deletes a segment meanwhile
  std::vector<uint32_t> segs = vault.journal().Segments();
  uint64_t done = 0;
  for (uint32_t seg : segs) {
    RPFS_RETURN_IF_ERROR(VerifySegment(vault.journal().SegmentPath(seg), seg, vault.meta().id,
                                       vault.journal().sealer(), r));
    r->segments++;
    if (progress) progress(++done, segs.size());
  }
  if (!deep) return Status::OK();
  return vault.catalog().blocks().ForEach([&](const BlockKey& k, const BlockVersion& v) {
    r->index_entries++;
    if (v.flags & journal::kZero) return Status::OK();
    std::string block(vault.block_size(), '\0');
    Status s = vault.ReadBlock(k.disk, k.block, FoundBlock{true, k.branch, v}, block.data());
    if (s.IsCorruption()) {
      r->problems.push_back("index entry disk " + std::to_string(k.disk) + " branch " +
                            std::to_string(k.branch) + " block " + std::to_string(k.block) +
                            " seq " + std::to_string(k.seq) + ": " + s.message());
      return Status::OK();
    }
    return s;
  });
}

}  // namespace rpfs::catalog
