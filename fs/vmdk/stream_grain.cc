#include "fs/vmdk/stream_grain.h"

#include <zlib.h>

#include <climits>

#include "fs/vmdk/sparse_extent_format.h"

namespace rpfs::fs {

Status ReadGrainMarker(const ByteSource& src, const SparseHeader& h, const GrainCursor& cursor,
                       const GrainRef& g, uint32_t* data_bytes) {
  char m[kGrainMarkerBytes];
  RPFS_RETURN_IF_ERROR(src.ReadAt(g.file_offset, sizeof m, m, "grain marker"));
  const std::string where = cursor.Where(g) + ": grain marker at offset " +
                            std::to_string(g.file_offset);
  const uint64_t lba = GetLE64(m);
  const uint32_t size = GetLE32(m + 8);
  const uint64_t want = g.index * (h.grain_bytes / kSector);
  if (size == 0) return Status::Corruption(where + " is a metadata marker, not a grain");
  if (lba != want) {
    return Status::Corruption(where + " names sector " + std::to_string(lba) + ", not " +
                              std::to_string(want));
  }
  if (size > MaxCompressedGrainBytes(h.grain_bytes)) {
    return Status::Corruption(where + " says " + std::to_string(size) +
                              " bytes of compressed data, more than a grain can need");
  }
  const uint64_t data_at = g.file_offset + kGrainMarkerBytes;
  if (data_at > src.size() || size > src.size() - data_at) {
    return Status::Corruption(where + ": " + std::to_string(size) +
                              " bytes of compressed data run past the end of the file (" +
                              std::to_string(src.size()) + " bytes)");
  }
  *data_bytes = size;
  return Status::OK();
}

Status StreamGrainReader::Read(const ByteSource& src, const SparseHeader& h,
                               const GrainCursor& cursor, const GrainRef& g, char* out) {
  uint32_t size;
  RPFS_RETURN_IF_ERROR(ReadGrainMarker(src, h, cursor, g, &size));
  compressed_.resize(size);
  RPFS_RETURN_IF_ERROR(src.ReadAt(g.file_offset + kGrainMarkerBytes, size, compressed_.data(),
                                  "compressed grain"));
  const std::string where = cursor.Where(g) + ": compressed grain at offset " +
                            std::to_string(g.file_offset);
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Status::Internal("zlib inflateInit failed");
  z.next_in = reinterpret_cast<Bytef*>(compressed_.data());
  z.avail_in = size;
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = static_cast<uInt>(g.bytes);
  int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = g.bytes - z.avail_out;
  // Output full before the stream's end: one byte more of room tells
  // "exactly a grain" (the end code was still to come) from "too long".
  bool longer = false;
  if (rc == Z_BUF_ERROR && z.avail_out == 0 && z.avail_in > 0) {
    char extra;
    z.next_out = reinterpret_cast<Bytef*>(&extra);
    z.avail_out = 1;
    rc = inflate(&z, Z_FINISH);
    longer = z.avail_out == 0;
  }
  const char* msg = z.msg;
  inflateEnd(&z);
  if (longer) {
    return Status::Corruption(where + " inflates to more than " + std::to_string(g.bytes) +
                              " bytes");
  }
  if (rc != Z_STREAM_END) {
    return Status::Corruption(where + ": bad deflate data (" +
                              (msg != nullptr ? std::string(msg) : "zlib error " + std::to_string(rc)) +
                              ")");
  }
  if (produced != g.bytes) {
    return Status::Corruption(where + " inflates to " + std::to_string(produced) +
                              " bytes, not " + std::to_string(g.bytes));
  }
  return Status::OK();
}

}  // namespace rpfs::fs
