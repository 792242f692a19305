// ReadQueue: issues a set of positioned reads at once and waits for all.
//
// The read path plans a request whole (catalog/block_fetch.h) and hands
// the reads here, so a 1 MiB read of scattered records costs about one
// device round trip, not one per record. Backends:
//   io_uring  (default) one ring per calling thread, made on first use;
//             up to kDepth reads in flight, refilled as they complete.
//   threads   preadv on a pool of kThreads I/O threads; used where the
//             kernel refuses io_uring, or when RPFS_READ_QUEUE=threads
//             (kept so the two can be measured against each other).
//   inline    preadv one after the other (RPFS_READ_QUEUE=inline).
// Measured (a 512 MiB disk written randomly, read sequentially through the
// mount, cold, 1 MiB kernel readahead): io_uring 267-269 MB/s, threads
// 186-206, inline 192. The pool runs one caller's job at a time (the other
// FUSE threads then read inline), so io_uring is the default.
// A short read (end of file, e.g. a record still in the append buffer) is
// reported as such; reads are never retried past what the file holds.
// Thread-safe: every thread has its own ring.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace rpfs::journal {

struct ReadRequest {
  int fd = -1;
  uint64_t offset = 0;
  const iovec* iov = nullptr;
  int iovcnt = 0;
  uint64_t want = 0;   // bytes the iovecs cover
  int64_t result = 0;  // filled: bytes read (< want only at end of file) or -errno
};

class ReadQueue {
 public:
  static constexpr unsigned kDepth = 64;
  static constexpr size_t kThreads = 16;
  enum class Backend { kIoUring, kThreads, kInline };

  // Issues every request and returns when all have completed.
  static void ReadAll(ReadRequest* requests, size_t n);
  // The backend ReadAll uses on this thread.
  static Backend backend();
};

}  // namespace rpfs::journal
