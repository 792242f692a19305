// WorkerPool: runs the parts of one job on all cores, the caller included.
//
// Used where one request carries a lot of CPU work that splits into
// independent pieces (compressing the blocks of a 1 MiB write). The
// threads are started once; a job costs one wake-up per helper.
// Thread-safe: while one caller's job has the helpers, another caller's
// job runs on its own thread (the cores are busy anyway).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rpfs::journal {

class WorkerPool {
 public:
  // helpers: threads besides the caller (0 = run everything inline).
  explicit WorkerPool(size_t helpers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Calls fn(i) for every i in [0, n), spread over the caller and the
  // helpers; returns when all calls have returned.
  void Run(size_t n, const std::function<void(size_t)>& fn);

  // One pool per process, with a helper per extra core.
  static WorkerPool& Shared();

 private:
  struct Job;
  void HelperLoop();
  static void Work(Job* job);

  std::mutex run_mu_;  // held by the caller whose job has the helpers
  std::mutex mu_;      // guards the fields below
  std::condition_variable wake_;  // a job was posted, or stop
  std::condition_variable idle_;  // busy_ reached 0
  Job* job_ = nullptr;
  uint64_t generation_ = 0;  // counts posted jobs
  size_t busy_ = 0;          // helpers inside Work()
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace rpfs::journal
