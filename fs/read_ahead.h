// ReadAhead: the mount daemon's own readahead, for open handles the kernel
// reads nothing ahead for (opened O_DIRECT: a guest with cache=none,
// qemu-img -T none).
//
// Each such handle has a Stream that watches its reads. Once kStreak
// reads in a row continue where the reader last was (give or take kSlack,
// since a reader with several requests in flight sends them slightly out
// of order), the stream asks for the window ahead of it: 8 of the reader's
// requests, at least kMinWindow and at most kMaxWindow. It asks again only
// when the reader has come within half a window of what was asked, so the
// prefetches are few and large. A read elsewhere starts the watch over.
//
// The prefetches run on one thread of the ReadAhead's (Vault::Prefetch:
// index lookups, then the kernel is asked to read the records into the
// page cache) so a FUSE request never waits for one. The queue holds at
// most kMaxQueued; a prefetch that finds it full is dropped: readahead is
// advice, and a reader that outruns the device gains nothing from more.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "catalog/vault.h"

namespace rpfs::fs {

// A range of a disk: [offset, offset + length).
struct DiskRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

class ReadAhead {
 public:
  static constexpr uint64_t kMinWindow = uint64_t{4} << 20;
  static constexpr uint64_t kMaxWindow = uint64_t{16} << 20;
  static constexpr uint64_t kSlack = uint64_t{1} << 20;
  static constexpr uint32_t kStreak = 2;
  static constexpr size_t kMaxQueued = 8;

  // One reader's pattern (one per open handle).
  class Stream {
   public:
    // Notes a read of [offset, offset + n) of a disk of disk_size bytes;
    // returns the range to prefetch now (length 0: none).
    DiskRange Next(uint64_t offset, uint64_t n, uint64_t disk_size);

   private:
    std::mutex mu_;
    bool started_ = false;
    uint32_t streak_ = 0;    // reads in a row that continued the one before
    uint64_t expected_ = 0;  // where the reader's next read would start
    uint64_t frontier_ = 0;  // asked for up to here
  };

  explicit ReadAhead(std::shared_ptr<catalog::Vault> vault);
  ~ReadAhead();  // drops what is queued, waits for the running prefetch

  // A read of a stream's handle arrived: queues what the stream asks for.
  void OnRead(Stream* stream, uint32_t disk, catalog::View view, uint64_t offset, size_t n,
                 uint64_t disk_size);

 private:
  struct Job {
    uint32_t disk;
    catalog::View view;
    DiskRange range;
  };
  void Loop();

  std::shared_ptr<catalog::Vault> vault_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace rpfs::fs
