#include "journal/read_queue.h"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "journal/worker_pool.h"

namespace rpfs::journal {
namespace {

ReadQueue::Backend ChosenBackend() {
  const char* e = std::getenv("RPFS_READ_QUEUE");
  if (e != nullptr && std::strcmp(e, "threads") == 0) return ReadQueue::Backend::kThreads;
  if (e != nullptr && std::strcmp(e, "inline") == 0) return ReadQueue::Backend::kInline;
  return ReadQueue::Backend::kIoUring;
}

// Reads what is left of r after the first `got` bytes (0: all of it), by
// preadv, retried on EINTR and continued after a short read until the end
// of the file (a read may stop early at a page the cache lacked).
int64_t ReadFully(const ReadRequest& r, uint64_t got = 0) {
  std::vector<iovec> rest;
  const iovec* iov = r.iov;
  int cnt = r.iovcnt;
  while (got < r.want) {
    if (got > 0) {  // skip what came in, for the next call
      rest.assign(r.iov, r.iov + r.iovcnt);
      uint64_t skip = got;
      size_t i = 0;
      while (i < rest.size() && skip >= rest[i].iov_len) skip -= rest[i++].iov_len;
      rest.erase(rest.begin(), rest.begin() + static_cast<long>(i));
      rest[0].iov_base = static_cast<char*>(rest[0].iov_base) + skip;
      rest[0].iov_len -= skip;
      iov = rest.data();
      cnt = static_cast<int>(rest.size());
    }
    ssize_t n = ::preadv(r.fd, iov, cnt, static_cast<off_t>(r.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return got > 0 ? static_cast<int64_t>(got) : -errno;
    if (n == 0) break;  // end of file
    got += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(got);
}

// A ring per thread, made on first use; `ok` false if the kernel refused.
// A forked child's thread inherits its parent thread's ring: the same
// kernel queues, so the two would reap each other's completions (a
// reader then waits forever). The child lets go of its copy and makes
// its own (vault_compaction_crash_test forks readers).
struct Ring {
  io_uring ring;
  pid_t pid = 0;
  bool made = false;
  bool ok = false;  // made, and not refused since
  Ring() { Make(); }
  ~Ring() {
    if (made) io_uring_queue_exit(&ring);
  }
  void Make() {
    pid = ::getpid();
    ok = made = io_uring_queue_init(ReadQueue::kDepth, &ring, 0) == 0;
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
};

Ring& ThreadRing() {
  thread_local Ring ring;
  if (ring.pid != ::getpid()) {
    if (ring.made) io_uring_queue_exit(&ring.ring);  // this process's mapping and fd only
    ring.Make();
  }
  return ring;
}

// False if the ring refused the first submission (then nothing is in
// flight and the caller reads another way). Once reads are in flight it
// waits for every one of them: their buffers are the caller's.
bool ReadOnRing(io_uring* ring, ReadRequest* reqs, size_t n) {
  size_t next = 0, in_flight = 0;
  while (next < n || in_flight > 0) {
    size_t queued = 0;
    while (next + queued < n && in_flight + queued < ReadQueue::kDepth) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) break;
      ReadRequest& r = reqs[next + queued];
      io_uring_prep_readv(sqe, r.fd, r.iov, static_cast<unsigned>(r.iovcnt), r.offset);
      io_uring_sqe_set_data64(sqe, next + queued);
      ++queued;
    }
    if (queued > 0) {
      int rc;
      do {
        rc = io_uring_submit(ring);
      } while (rc == -EINTR || rc == -EAGAIN);
      if (rc < 0 || static_cast<size_t>(rc) != queued) {
        if (in_flight == 0 && rc <= 0 && next == 0) return false;
        std::fprintf(stderr, "rpfs: io_uring submit failed (%s) with reads in flight\n",
                     std::strerror(rc < 0 ? -rc : EIO));
        std::abort();  // their buffers would be written after we return
      }
      next += queued;
      in_flight += queued;
    }
    io_uring_cqe* cqe;
    int rc;
    do {
      rc = io_uring_wait_cqe(ring, &cqe);
    } while (rc == -EINTR || rc == -EAGAIN);
    if (rc < 0) {
      std::fprintf(stderr, "rpfs: io_uring wait failed (%s) with reads in flight\n",
                   std::strerror(-rc));
      std::abort();
    }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      reqs[io_uring_cqe_get_data64(cqe)].result = cqe->res;
      ++seen;
    }
    io_uring_cq_advance(ring, seen);
    in_flight -= seen;
  }
  return true;
}

}  // namespace

ReadQueue::Backend ReadQueue::backend() {
  static const Backend chosen = ChosenBackend();
  if (chosen != Backend::kIoUring) return chosen;
  return ThreadRing().ok ? Backend::kIoUring : Backend::kThreads;
}

void ReadQueue::ReadAll(ReadRequest* reqs, size_t n) {
  if (n == 0) return;
  Backend b = backend();
  if (b == Backend::kIoUring) {
    Ring& ring = ThreadRing();
    if (ReadOnRing(&ring.ring, reqs, n)) {
      // An interrupted read from the ring is done again plainly, a short
      // one continued from where it stopped (at the end of the file, e.g.
      // a record still in the append buffer, that costs one more call).
      for (size_t i = 0; i < n; ++i) {
        ReadRequest& r = reqs[i];
        if (r.result == -EAGAIN || r.result == -EINTR) {
          r.result = ReadFully(r);
        } else if (r.result > 0 && static_cast<uint64_t>(r.result) < r.want) {
          r.result = ReadFully(r, static_cast<uint64_t>(r.result));
        }
      }
      return;
    }
    // The kernel refused the first submission: nothing is in flight, so
    // every request is read plainly instead, and this thread's ring (its
    // queue may hold the refused entries) is not used again.
    ring.ok = false;
    b = Backend::kThreads;
  }
  if (b == Backend::kThreads && n > 1) {
    static WorkerPool pool(kThreads - 1);
    pool.Run(n, [&](size_t i) { reqs[i].result = ReadFully(reqs[i]); });
    return;
  }
  for (size_t i = 0; i < n; ++i) reqs[i].result = ReadFully(reqs[i]);
}

}  // namespace rpfs::journal
