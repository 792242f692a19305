#include "fs/vmdk/sparse_vmdk_reader.h"

#include <algorithm>

#include "fs/vmdk/sparse_extent_check.h"

namespace rpfs::fs {
namespace {

// Loads one directory and checks the extent through it.
Status LoadChecked(const ByteSource& src, const SparseHeader& h, bool redundant,
                   std::unique_ptr<GrainDirectory>* gd) {
  RPFS_RETURN_IF_ERROR(GrainDirectory::Load(src, h, redundant, gd));
  std::unique_ptr<GrainDirectory> other;
  bool has_other = redundant || h.rgd_sector != 0;
  if (has_other && !GrainDirectory::Load(src, h, !redundant, &other).ok()) other.reset();
  return CheckSparseExtent(src, h, **gd, other.get());
}

}  // namespace

Status SparseVmdkReader::Open(std::unique_ptr<ByteSource> src,
                              std::unique_ptr<SparseVmdkReader>* out) {
  std::unique_ptr<SparseVmdkReader> r(new SparseVmdkReader);
  RPFS_RETURN_IF_ERROR(ReadSparseHeader(*src, &r->h_));
  Status primary = LoadChecked(*src, r->h_, false, &r->gd_);
  if (!primary.ok()) {
    if (r->h_.rgd_sector == 0 || primary.code() == Status::Code::kIOError) return primary;
    if (!LoadChecked(*src, r->h_, true, &r->gd_).ok()) return primary;
  }
  r->src_ = std::move(src);
  r->cursor_ = std::make_unique<GrainCursor>(*r->src_, r->h_, *r->gd_);
  *out = std::move(r);
  return Status::OK();
}

std::string SparseVmdkReader::format() const {
  return h_.compressed ? "streamOptimized" : "monolithicSparse";
}

Status SparseVmdkReader::NextGrain(GrainRef* g, bool* end) {
  if (have_pending_) {
    have_pending_ = false;
    *g = pending_;
    *end = false;
    return Status::OK();
  }
  return cursor_->Next(g, end);
}

void SparseVmdkReader::PrefetchFrom(uint64_t at) {
  // Grains are read in disk order, which in the files qemu-img and VMware
  // write is file order too; a jump elsewhere starts a new window.
  if (at < prefetch_from_ || at > prefetched_) prefetch_from_ = prefetched_ = at;
  const uint64_t until = std::min(src_->size(), at + kPrefetchBytes);
  // In steps of a sixteenth of the window, not a call per grain.
  if (prefetched_ >= until ||
      (until - prefetched_ < kPrefetchBytes / 16 && until < src_->size())) {
    return;
  }
  src_->Prefetch(prefetched_, until - prefetched_);
  prefetched_ = until;
}

Status SparseVmdkReader::Next(ImageRun* run, bool* end) {
  GrainRef first;
  RPFS_RETURN_IF_ERROR(NextGrain(&first, end));
  if (*end) return Status::OK();
  // Gather the grains that follow on the disk (and, uncompressed, in the
  // file) into one run.
  std::vector<GrainRef> grains{first};
  uint64_t total = first.bytes;
  for (;;) {
    GrainRef g;
    bool done;
    RPFS_RETURN_IF_ERROR(cursor_->Next(&g, &done));
    if (done) break;
    const GrainRef& last = grains.back();
    bool follows = g.index == last.index + 1 && total + g.bytes <= kMaxRunBytes &&
                   (h_.compressed || g.file_offset == last.file_offset + last.bytes);
    if (!follows) {
      pending_ = g;
      have_pending_ = true;
      break;
    }
    grains.push_back(g);
    total += g.bytes;
  }
  PrefetchFrom(first.file_offset);
  if (buf_.size() < total) buf_.resize(total);
  if (h_.compressed) {
    uint64_t at = 0;
    for (const GrainRef& g : grains) {
      RPFS_RETURN_IF_ERROR(inflater_.Read(*src_, h_, *cursor_, g, buf_.data() + at));
      at += g.bytes;
    }
  } else {
    RPFS_RETURN_IF_ERROR(src_->ReadAt(first.file_offset, total, buf_.data(),
                                      "grains of " + cursor_->Structure(first)));
  }
  run->offset = first.index * h_.grain_bytes;
  run->data = buf_.data();
  run->size = total;
  return Status::OK();
}

}  // namespace rpfs::fs
