// The hand-over between the batched scan's thread and its caller
// (catalog/vault_scan.cc): batches of found block versions and, once read,
// their bytes. A fixed set of batches goes round, so memory stays the same
// whatever the disk size. Internal to the scan.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "catalog/block_map.h"
#include "journal/status.h"

namespace rpfs::catalog {

// Found versions in block order and, once read, their blocks: entry e at
// out + e * block size.
struct ScanBatch {
  struct Entry {
    uint64_t block;
    FoundBlock found;
  };
  std::vector<Entry> entries;
  std::unique_ptr<char[]> out;
  size_t good = 0;  // entries [0, good) hold their checked bytes
};

// Thread-safe: the scan thread takes Free() batches and Put()s them
// filled, then Close()s with how the scan ended; the caller Take()s them,
// GiveBack()s each when done, and Stop()s the scan early if it fails.
class ScanPipe {
 public:
  // batches: 3 lets one be filled, one wait and one be with the caller; 2
  // (big batches) one be filled while the caller has the other.
  ScanPipe(size_t batch_blocks, uint64_t block_size, size_t batches = 3) : batches_(batches) {
    for (ScanBatch& b : batches_) {
      b.entries.reserve(batch_blocks);
      b.out.reset(new char[batch_blocks * block_size]);
      free_.push_back(&b);
    }
  }

  // Scan side. Null once the caller stopped.
  ScanBatch* Free() {
    std::unique_lock<std::mutex> l(mu_);
    changed_.wait(l, [&] { return stopped_ || !free_.empty(); });
    if (stopped_) return nullptr;
    ScanBatch* b = free_.front();
    free_.pop_front();
    b->entries.clear();
    b->good = 0;
    return b;
  }
  void Put(ScanBatch* b) {
    std::lock_guard<std::mutex> l(mu_);
    ready_.push_back(b);
    changed_.notify_all();
  }
  void Close(Status s) {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    status_ = std::move(s);
    changed_.notify_all();
  }

  // Caller side. Null when the scan is over and every batch was taken.
  ScanBatch* Take() {
    std::unique_lock<std::mutex> l(mu_);
    changed_.wait(l, [&] { return closed_ || !ready_.empty(); });
    if (ready_.empty()) return nullptr;
    ScanBatch* b = ready_.front();
    ready_.pop_front();
    return b;
  }
  void GiveBack(ScanBatch* b) {
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(b);
    changed_.notify_all();
  }
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    changed_.notify_all();
  }
  Status status() {
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }

 private:
  std::vector<ScanBatch> batches_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<ScanBatch*> free_, ready_;
  bool stopped_ = false;  // the caller gave up
  bool closed_ = false;   // the scan is over
  Status status_;         // how it ended
};

}  // namespace rpfs::catalog
