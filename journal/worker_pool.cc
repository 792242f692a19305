#include "journal/worker_pool.h"

#include <algorithm>
#include <atomic>

namespace rpfs::journal {

struct WorkerPool::Job {
  const std::function<void(size_t)>* fn;
  size_t n;
  std::atomic<size_t> next{0};
};

WorkerPool::WorkerPool(size_t helpers) {
  for (size_t i = 0; i < helpers; ++i) threads_.emplace_back([this] { HelperLoop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

WorkerPool& WorkerPool::Shared() {
  static WorkerPool pool(std::max(1u, std::thread::hardware_concurrency()) - 1);
  return pool;
}

void WorkerPool::Work(Job* job) {
  for (size_t i; (i = job->next.fetch_add(1)) < job->n;) (*job->fn)(i);
}

void WorkerPool::HelperLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    wake_.wait(l, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
    if (stop_) return;
    seen = generation_;
    Job* job = job_;
    ++busy_;
    l.unlock();
    Work(job);
    l.lock();
    if (--busy_ == 0) idle_.notify_all();
  }
}

void WorkerPool::Run(size_t n, const std::function<void(size_t)>& fn) {
  // Busy pool: another caller already has every core, so run inline.
  std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
  if (threads_.empty() || n <= 1 || !run.owns_lock()) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  {
    std::lock_guard<std::mutex> l(mu_);
    job_ = &job;
    ++generation_;
  }
  wake_.notify_all();
  Work(&job);  // returns once every index is claimed
  // Withdraw the job, then wait for helpers still running a claimed index.
  std::unique_lock<std::mutex> l(mu_);
  job_ = nullptr;
  idle_.wait(l, [&] { return busy_ == 0; });
}

}  // namespace rpfs::journal
