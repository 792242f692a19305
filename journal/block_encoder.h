// BlockEncoder: turns whole blocks into record payloads (zero flag, zstd,
// or stored as they are), before the writer takes the journal lock.
//
// Compression is adaptive, per stream (a disk) and thread: a block that
// zstd cannot shrink by at least an eighth is stored as it is, and the
// next blocks of that stream on that thread skip the attempt, for a
// stretch that doubles with every further failure (up to 64 blocks).
// Already-compressed or encrypted guest data then costs one try in 65
// instead of a full zstd pass per block, which at 4 KiB blocks is most of
// the write path's CPU. The first compressible block resets the stretch.
// Storing near-incompressible blocks as they are also keeps their reads
// free of decompression. The state is the thread's, not the stream's:
// writers of one disk on several threads (an import's pieces, FUSE
// requests) each write their own stretch of it, and one writing text must
// not keep resetting the stretch of another writing random bytes.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace rpfs::journal {

struct EncodedBlock {
  uint8_t flags = 0;           // record flags: kZero, kZstd or 0 (stored)
  const char* body = nullptr;  // the payload: the caller's data or room, or `compressed`
  uint32_t body_len = 0;
  std::string compressed;      // holds a zstd payload when no room was given; reused
};

class BlockEncoder {
 public:
  explicit BlockEncoder(int level) : level_(level) {}

  // Encodes data[0,n) for `stream`. out->body may point into `data`,
  // which must outlive the use of *out. A compressed body goes to `room`
  // (7/8 of n bytes of the caller's, which must outlive it too) if given,
  // else into out->compressed: a bulk writer gives room so that its
  // thousands of blocks in flight allocate nothing.
  void Encode(uint32_t stream, const char* data, size_t n, EncodedBlock* out,
              char* room = nullptr);

  // Encodes `count` consecutive blocks of `block_size` bytes, spread over
  // all cores when there are enough of them to pay for it.
  void EncodeRun(uint32_t stream, const char* data, size_t count, size_t block_size,
                 EncodedBlock* out);

 private:
  struct Gate {
    uint32_t skip = 0;     // attempts still to skip
    uint32_t stretch = 0;  // the next skip after a failure
  };
  // This thread's gate for `stream` of this encoder.
  Gate& GateFor(uint32_t stream);

  int level_;
};

}  // namespace rpfs::journal
