#include "tools/data_runs.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rpfs::tools {
namespace {

constexpr size_t kRunBytes = size_t{1} << 20;
constexpr size_t kQueuedRuns = 8;

struct Run {
  uint64_t offset = 0;
  std::string bytes;
};

// The hand-over between the reader thread and the consumer. Buffers go
// back to `spare` after use, so a scan allocates at most a few.
class RunQueue {
 public:
  // Reader side. False once the consumer gave up.
  bool Put(Run* run) {
    std::unique_lock<std::mutex> l(mu_);
    room_.wait(l, [&] { return stopped_ || ready_.size() < kQueuedRuns; });
    if (stopped_) return false;
    ready_.push_back(std::move(*run));
    filled_.notify_one();
    *run = Run();
    if (!spare_.empty()) {
      run->bytes = std::move(spare_.back());
      spare_.pop_back();
    }
    run->bytes.clear();
    return true;
  }
  void Finish(Status s) {
    std::lock_guard<std::mutex> l(mu_);
    finished_ = true;
    read_status_ = std::move(s);
    filled_.notify_one();
  }

  // Consumer side. False when the reader finished and everything was taken.
  bool Take(Run* run) {
    std::unique_lock<std::mutex> l(mu_);
    filled_.wait(l, [&] { return finished_ || !ready_.empty(); });
    if (ready_.empty()) return false;
    *run = std::move(ready_.front());
    ready_.pop_front();
    room_.notify_one();
    return true;
  }
  void GiveBack(std::string bytes) {
    std::lock_guard<std::mutex> l(mu_);
    if (spare_.size() < 2) spare_.push_back(std::move(bytes));
  }
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    room_.notify_all();
  }
  Status read_status() {
    std::lock_guard<std::mutex> l(mu_);
    return read_status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable room_, filled_;
  std::deque<Run> ready_;
  std::vector<std::string> spare_;
  bool stopped_ = false;   // the consumer gave up
  bool finished_ = false;  // the reader is done
  Status read_status_;
};

}  // namespace

Status ScanDataRuns(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                    const DataRunFn& fn) {
  RunQueue queue;
  std::thread reader([&] {
    const uint64_t bs = vault.block_size();
    Run run;
    run.bytes.reserve(kRunBytes);
    Status s = vault.ScanData(disk.id, view, [&](uint64_t block, const char* data) -> Status {
      const uint64_t off = block * bs;
      if (!run.bytes.empty() &&
          (off != run.offset + run.bytes.size() || run.bytes.size() + bs > kRunBytes)) {
        // The consumer failed and reports why; this only stops the scan.
        if (!queue.Put(&run)) return Status::Internal("scan stopped");
      }
      if (run.bytes.empty()) {
        run.offset = off;
        run.bytes.reserve(kRunBytes);
      }
      run.bytes.append(data, bs);
      return Status::OK();
    });
    if (s.ok() && !run.bytes.empty() && !queue.Put(&run)) s = Status::Internal("scan stopped");
    queue.Finish(std::move(s));
  });

  Status s;
  Run run;
  while (queue.Take(&run)) {
    s = fn(run.offset, run.bytes.data(), run.bytes.size());
    if (!s.ok()) break;
    queue.GiveBack(std::move(run.bytes));
  }
  queue.Stop();
  reader.join();
  if (!s.ok()) return s;
  return queue.read_status();
}

}  // namespace rpfs::tools
