// A bounded worker pool that hands results back in submission order: one
// producer Push()es items, N worker threads run `work` on them in parallel,
// one consumer Pop()s the results in the order the items were pushed. Used
// to compress stream-VMDK grains on every core while the file is written
// strictly in disk order.
//
// At most `max_in_flight` items are pushed and not yet popped; Push() blocks
// beyond that, so memory stays bounded whatever the input size. Close()
// says no more items will come; Cancel() (from either side) stops
// everything: Push() then returns false and Pop() returns false.
//
// Thread-safety: Push/Close from one producer thread, Pop from one consumer
// thread, Cancel from anywhere. `work(worker, in, out)` runs on worker
// thread `worker` (0 .. workers-1), so per-worker state needs no lock. The
// destructor cancels and joins the workers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace rpfs::tools {

template <typename In, typename Out>
class OrderedPipeline {
 public:
  using Work = std::function<void(unsigned worker, In& in, Out* out)>;

  OrderedPipeline(unsigned workers, size_t max_in_flight, Work work)
      : work_(std::move(work)), results_(max_in_flight == 0 ? 1 : max_in_flight) {
    if (workers == 0) workers = 1;
    for (unsigned w = 0; w < workers; ++w) threads_.emplace_back([this, w] { WorkerLoop(w); });
  }

  ~OrderedPipeline() {
    Cancel();
    for (std::thread& t : threads_) t.join();
  }

  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  bool Push(In item) {
    std::unique_lock<std::mutex> l(mu_);
    room_.wait(l, [&] { return cancelled_ || pushed_ - popped_ < results_.size(); });
    if (cancelled_ || closed_) return false;
    todo_.emplace_back(pushed_++, std::move(item));
    work_ready_.notify_one();
    return true;
  }

  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    work_ready_.notify_all();
    result_ready_.notify_all();
  }

  void Cancel() {
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
    work_ready_.notify_all();
    result_ready_.notify_all();
    room_.notify_all();
  }

  // The next result in push order; false once closed and drained, or cancelled.
  bool Pop(Out* out) {
    std::unique_lock<std::mutex> l(mu_);
    std::optional<Out>& slot = results_[popped_ % results_.size()];
    result_ready_.wait(l, [&] {
      return cancelled_ || slot.has_value() || (closed_ && popped_ == pushed_);
    });
    if (cancelled_ || !slot.has_value()) return false;
    *out = std::move(*slot);
    slot.reset();
    ++popped_;
    room_.notify_one();
    return true;
  }

 private:
  void WorkerLoop(unsigned worker) {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      work_ready_.wait(l, [&] { return cancelled_ || closed_ || !todo_.empty(); });
      if (cancelled_ || todo_.empty()) return;  // closed and nothing left
      auto [seq, item] = std::move(todo_.front());
      todo_.pop_front();
      l.unlock();
      Out out;
      work_(worker, item, &out);
      l.lock();
      // The slot is free: at most results_.size() items are in flight.
      results_[seq % results_.size()] = std::move(out);
      if (seq == popped_) result_ready_.notify_one();
    }
  }

  Work work_;
  std::mutex mu_;
  std::condition_variable work_ready_;    // todo_ got an item, or closing
  std::condition_variable result_ready_;  // the next result is in, or closing
  std::condition_variable room_;          // an item was popped
  std::deque<std::pair<uint64_t, In>> todo_;
  std::vector<std::optional<Out>> results_;  // slot seq % size
  uint64_t pushed_ = 0;
  uint64_t popped_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
  std::vector<std::thread> threads_;  // last: started after everything above
};

}  // namespace rpfs::tools
