// One grain of a streamOptimized VMDK in its on-disk form: the grain marker
// (the grain's first disk sector and the compressed length), the grain
// deflated as a zlib stream (RFC 1950, what VMware and qemu read), zero
// padding to a whole sector (fs/vmdk/sparse_extent_format.h).
//
// Incompressible grains (encrypted volumes, compressed media, fio's random
// buffers) are not run through the compressor: an 8 KiB sample (the
// grain's first 4 KiB and 4 KiB from its middle) is deflated at level 1,
// and if that saves less than 3% the grain is written as deflate "stored"
// blocks (level 0: a valid zlib stream at copy speed, 5 bytes per 64 KiB
// bigger than the data). Otherwise the whole grain is deflated at `level`.
// The sample catches redundancy within 4 KiB and between the grain's two
// halves; data redundant only at other distances (rare on disks) is stored
// where deflate would have shrunk it a little.
//
// Not thread-safe: one per compressor thread. It keeps its zlib streams and
// resets them per grain, which saves deflate's ~256 KiB state allocation.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>

#include "journal/status.h"

namespace rpfs::tools {

class GrainDeflater {
 public:
  explicit GrainDeflater(int level);
  ~GrainDeflater();
  GrainDeflater(const GrainDeflater&) = delete;
  GrainDeflater& operator=(const GrainDeflater&) = delete;

  // Replaces *out with grain `grain` (grain_sectors sectors a grain) of
  // `len` bytes at data, packed as described above.
  Status Pack(uint64_t grain, uint64_t grain_sectors, const char* data, size_t len,
              std::string* out);

 private:
  bool LooksIncompressible(const char* data, size_t len);
  static Status Deflate(z_stream* z, const char* data, size_t len, char* dst, size_t cap,
                        size_t* n);

  z_stream full_;    // at `level`
  z_stream stored_;  // level 0
  z_stream probe_;   // level 1, 8 KiB window
  bool ok_ = false;
};

}  // namespace rpfs::tools
