#include "fs/background_compactor.h"

#include <chrono>
#include <cstdio>

namespace rpfs::fs {

BackgroundCompactor::BackgroundCompactor(std::shared_ptr<catalog::Vault> vault, uint64_t every_s,
                                         const catalog::CompactOptions& options,
                                         uint64_t defrag_quiet_s)
    : vault_(std::move(vault)), every_s_(every_s), options_(options), defrag_quiet_s_(defrag_quiet_s) {}

BackgroundCompactor::~BackgroundCompactor() { Stop(); }

void BackgroundCompactor::Start() {
  if (every_s_ > 0) thread_ = std::thread([this] { Loop(); });
}

void BackgroundCompactor::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundCompactor::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  uint64_t wait_s = every_s_;
  for (;;) {
    wake_.wait_for(l, std::chrono::seconds(wait_s), [this] { return stop_; });
    if (stop_) return;
    l.unlock();
    catalog::CompactReport r;
    Status s = vault_->Compact(options_, &r);
    if (!s.ok()) {
      std::fprintf(stderr, "rpfs: compaction failed (retried in %llus): %s\n",
                   static_cast<unsigned long long>(every_s_), s.ToString().c_str());
    } else {
      if (r.cap_cut_ns > 0) {
        std::fprintf(stderr, "rpfs: WARNING: the vault nears its size cap; retention shrank: %s\n",
                     r.shrunk.c_str());
      }
      if (r.reclaimed_bytes > 0 || r.segments_rewritten > 0 || !r.expired.empty()) {
        std::fprintf(stderr,
                     "rpfs: compaction: %zu points expired, %u segments rewritten (%llu bytes "
                     "copied), %llu bytes reclaimed%s%s\n",
                     r.expired.size(), r.segments_rewritten,
                     static_cast<unsigned long long>(r.copied_bytes),
                     static_cast<unsigned long long>(r.reclaimed_bytes),
                     r.stopped.empty() ? "" : "; stopped: ", r.stopped.c_str());
      }
    }
    bool more = s.ok() && !r.stopped.empty() && r.segments_rewritten > 0;
    if (s.ok() && defrag_quiet_s_ > 0) {
      catalog::DefragOptions d;
      d.quiet_ns = defrag_quiet_s_ * 1000000000ull;
      d.rate_bytes_per_s = options_.rate_bytes_per_s;
      catalog::DefragReport dr;
      Status ds = vault_->Defragment(d, &dr);
      if (!ds.ok()) {
        std::fprintf(stderr, "rpfs: defragmentation failed (retried in %llus): %s\n",
                     static_cast<unsigned long long>(every_s_), ds.ToString().c_str());
      } else if (dr.rewritten_extents > 0) {
        std::fprintf(stderr,
                     "rpfs: defragmentation: %llu of %llu fragmented extents laid out in block "
                     "order (%llu bytes copied)%s%s\n",
                     static_cast<unsigned long long>(dr.rewritten_extents),
                     static_cast<unsigned long long>(dr.fragmented_extents),
                     static_cast<unsigned long long>(dr.copied_bytes),
                     dr.stopped.empty() ? "" : "; stopped: ", dr.stopped.c_str());
        more = more || !dr.stopped.empty();
      }
    }
    // A pass that stopped at its budget with work left goes on soon.
    wait_s = more ? 1 : every_s_;
    l.lock();
  }
}

}  // namespace rpfs::fs
