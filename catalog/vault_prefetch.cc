// Prefetch: the journal records a range of a view needs, brought into the
// host's page cache ahead of the read that will want them.
//
// The kernel reads ahead for a buffered reader of the mount (FUSE passes
// big readahead requests, fs/fuse_ops.cc), but a reader that opens a disk
// with O_DIRECT (a guest with cache=none, qemu-img -T none) gets none: each
// of its requests reaches the daemon alone, and the device work for the
// next request starts only when it arrives. The daemon's readahead
// (fs/read_ahead.h) calls Prefetch for the stretch the reader is heading
// into. Prefetch looks every block up (one snapshot, as Read), joins the
// records that lie near each other in a segment file as BlockFetch does
// (kMaxGap), and asks the kernel to read each run (posix_fadvise
// WILLNEED in 128 KiB pieces, which starts the reads and does not wait
// for them). The page
// cache is the readahead cache: bounded by the kernel, shared with every
// other reader, and never stale, because a later Read looks the blocks up
// again and reads by location; a prefetch of a live view that a write
// overtakes only warms a record nobody asks for.
#include <fcntl.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "catalog/block_fetch.h"
#include "catalog/vault.h"

namespace rpfs::catalog {
namespace {

// The least the kernel reads of one WILLNEED: the default readahead size.
constexpr uint64_t kAdvicePiece = uint64_t{128} << 10;

}  // namespace

Status Vault::Prefetch(uint32_t disk, View view, uint64_t offset, size_t n, uint64_t* bytes) {
  *bytes = 0;
  RPFS_RETURN_IF_ERROR(CheckRead(disk, view, offset, n));
  if (n == 0) return Status::OK();
  const uint64_t bs = meta_.block_size;
  const BranchChain chain = ChainFor(view);
  const uint64_t first = offset / bs;
  const uint64_t last = (offset + n - 1) / bs;
  thread_local std::vector<journal::RecordLocation> locs;  // reused: capacity stays
  locs.clear();
  auto hold = HoldSegments();  // the descriptors below stay open
  RPFS_RETURN_IF_ERROR(catalog_->blocks().Read([&](BlockMap::Reader& r) {
    for (uint64_t b = first; b <= last; ++b) {
      FoundBlock f;
      RPFS_RETURN_IF_ERROR(r.Find(disk, chain, b, &f));
      if (f.found && (f.version.flags & journal::kZero) == 0) locs.push_back(f.version.loc);
    }
    return Status::OK();
  }));
  std::sort(locs.begin(), locs.end(), [](const auto& a, const auto& b) {
    return std::tie(a.segment, a.offset) < std::tie(b.segment, b.offset);
  });
  size_t i = 0;
  while (i < locs.size()) {
    const uint32_t segment = locs[i].segment;
    const uint64_t from = locs[i].offset;
    uint64_t to = from + locs[i].size;
    size_t j = i + 1;
    while (j < locs.size() && locs[j].segment == segment &&
           locs[j].offset <= to + BlockFetch::kMaxGap) {
      to = std::max<uint64_t>(to, uint64_t{locs[j].offset} + locs[j].size);
      ++j;
    }
    int fd;
    RPFS_RETURN_IF_ERROR(journal_->SegmentFd(segment, &fd));
    // In pieces: the kernel reads at most the file's readahead size (or
    // the device's largest request) of one WILLNEED and drops the rest.
    // Advice: an error here costs speed, never data, and the read that
    // follows reports anything that matters.
    for (uint64_t at = from; at < to; at += kAdvicePiece) {
      const uint64_t len = std::min(kAdvicePiece, to - at);
      if (::posix_fadvise(fd, static_cast<off_t>(at), static_cast<off_t>(len),
                          POSIX_FADV_WILLNEED) == 0) {
        *bytes += len;
      }
    }
    i = j;
  }
  return Status::OK();
}

}  // namespace rpfs::catalog
