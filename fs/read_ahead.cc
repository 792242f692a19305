#include "fs/read_ahead.h"

#include <algorithm>

namespace rpfs::fs {

DiskRange ReadAhead::Stream::Next(uint64_t offset, uint64_t n, uint64_t disk_size) {
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t end = offset + n;
  const bool sequential = started_ && offset + kSlack >= expected_ && offset <= expected_ + kSlack;
  if (!sequential) {
    started_ = true;
    streak_ = 0;
    expected_ = end;
    frontier_ = end;
    return {};
  }
  expected_ = std::max(expected_, end);
  if (++streak_ < kStreak) return {};
  const uint64_t window = std::clamp<uint64_t>(8 * n, kMinWindow, kMaxWindow);
  if (frontier_ > expected_ + window / 2) return {};  // still well ahead
  const uint64_t from = std::max(frontier_, expected_);
  const uint64_t to = std::min(disk_size, expected_ + window);
  if (to <= from) return {};
  frontier_ = to;
  return {from, to - from};
}

ReadAhead::ReadAhead(std::shared_ptr<catalog::Vault> vault)
    : vault_(std::move(vault)), worker_([this] { Loop(); }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  worker_.join();
}

void ReadAhead::OnRead(Stream* stream, uint32_t disk, catalog::View view, uint64_t offset,
                          size_t n, uint64_t disk_size) {
  const DiskRange r = stream->Next(offset, n, disk_size);
  if (r.length == 0) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (queue_.size() >= kMaxQueued) return;
    queue_.push_back(Job{disk, view, r});
  }
  cv_.notify_one();
}

void ReadAhead::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const Job job = queue_.front();
    queue_.pop_front();
    l.unlock();
    uint64_t bytes = 0;
    // A failed prefetch (a view reclaimed meanwhile, a branch gone) is
    // nobody's error: the read that follows reports what matters.
    (void)vault_->Prefetch(job.disk, job.view, job.range.offset, job.range.length, &bytes);
    l.lock();
  }
}

}  // namespace rpfs::fs
