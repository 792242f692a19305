// BackgroundCompactor: while a vault is mounted, runs a compaction pass
// (Vault::Compact) every `every_s` seconds on a thread of its own, copying
// at most options.rate_bytes_per_s, then (defrag_quiet_s > 0) a
// defragmentation pass (Vault::Defragment) over the extents not written
// for defrag_quiet_s, at the same rate, and says on stderr (the daemon's
// log) what each pass that did something reclaimed or rewrote, or why it
// failed. A failed pass (a full disk, say) is retried at the next
// interval; one that stopped at its budget with work left, a second later.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "catalog/vault.h"

namespace rpfs::fs {

class BackgroundCompactor {
 public:
  BackgroundCompactor(std::shared_ptr<catalog::Vault> vault, uint64_t every_s,
                      const catalog::CompactOptions& options, uint64_t defrag_quiet_s);
  ~BackgroundCompactor();  // stops the thread (an ongoing pass finishes first)
  void Start();            // no thread if every_s is 0
  void Stop();

 private:
  void Loop();

  std::shared_ptr<catalog::Vault> vault_;
  const uint64_t every_s_;
  const catalog::CompactOptions options_;
  const uint64_t defrag_quiet_s_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rpfs::fs
