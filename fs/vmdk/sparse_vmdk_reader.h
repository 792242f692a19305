// SparseVmdkReader: one hosted sparse extent ("KDMV": monolithicSparse, a
// twoGbMaxExtentSparse piece, streamOptimized) as an ImageReader.
//
// Open() reads the header (and footer), loads the primary grain directory
// and runs every check of fs/vmdk/sparse_extent_check.h; if the primary fails
// them and the extent has a redundant directory that passes, it reads
// through the redundant one instead (the primary's error is returned when
// neither passes). Next() walks the grain tables again in disk order and
// reads the allocated grains: neighbours that are contiguous in the file
// in one read, compressed ones inflated, up to kMaxRunBytes a run.
//
// The source may be a file or a memory buffer (the fuzz target).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/grain_directory.h"
#include "fs/vmdk/image_reader.h"
#include "fs/vmdk/sparse_extent_header.h"
#include "fs/vmdk/stream_grain.h"

namespace rpfs::fs {

class SparseVmdkReader : public ImageReader {
 public:
  static Status Open(std::unique_ptr<ByteSource> src, std::unique_ptr<SparseVmdkReader>* out);

  uint64_t capacity() const override { return h_.capacity; }
  std::string format() const override;
  Status Next(ImageRun* run, bool* end) override;

  const SparseHeader& header() const { return h_; }
  const ByteSource& source() const { return *src_; }
  bool reads_redundant_directory() const { return gd_->redundant(); }

 private:
  SparseVmdkReader() = default;
  Status NextGrain(GrainRef* g, bool* end);
  // Prefetches the file ahead of offset `at`, where this run's grains are.
  void PrefetchFrom(uint64_t at);

  std::unique_ptr<ByteSource> src_;
  SparseHeader h_;
  std::unique_ptr<GrainDirectory> gd_;
  std::unique_ptr<GrainCursor> cursor_;
  GrainRef pending_;  // read ahead by the last Next()
  // [prefetch_from_, prefetched_) of the file has been prefetched.
  uint64_t prefetch_from_ = 0, prefetched_ = 0;
  bool have_pending_ = false;
  std::vector<char> buf_;
  StreamGrainReader inflater_;
};

}  // namespace rpfs::fs
