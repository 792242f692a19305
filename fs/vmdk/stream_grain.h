// The grains of a streamOptimized extent: a marker (lba, size) and a zlib
// deflate stream that inflates to exactly one grain, or to the rest of the
// disk for the last one (fs/vmdk/sparse_extent_format.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/grain_directory.h"
#include "fs/vmdk/sparse_extent_header.h"

namespace rpfs::fs {

// Deflate data bigger than this for one grain is refused: zlib's worst
// case for incompressible data is a little over the input.
inline uint64_t MaxCompressedGrainBytes(uint64_t grain_bytes) {
  return grain_bytes + grain_bytes / 8 + 1024;
}

// Reads g's marker and checks it names g's sector and a size whose data
// lies inside the file. Sets *data_bytes to that size.
Status ReadGrainMarker(const ByteSource& src, const SparseHeader& h, const GrainCursor& cursor,
                       const GrainRef& g, uint32_t* data_bytes);

// Reads and inflates g into out (g.bytes long). Reuses its buffers.
class StreamGrainReader {
 public:
  Status Read(const ByteSource& src, const SparseHeader& h, const GrainCursor& cursor,
              const GrainRef& g, char* out);

 private:
  std::vector<char> compressed_;
};

}  // namespace rpfs::fs
