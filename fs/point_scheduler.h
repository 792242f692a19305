// PointScheduler: while a vault is mounted, takes each group's crash- and
// app-consistent points on its policy (--crash-every, --app-every), and
// expires the points past each group's retention window.
// One thread; a tick a second; a failed point (a freeze hook that fails)
// is retried at the next interval, not every tick.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "catalog/vault.h"

namespace rpfs::fs {

class PointScheduler {
 public:
  explicit PointScheduler(std::shared_ptr<catalog::Vault> vault);
  ~PointScheduler();  // stops the thread
  void Start();
  void Stop();

 private:
  void Loop();
  void Tick();

  std::shared_ptr<catalog::Vault> vault_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
  // Per group and kind: when the schedule last fired (ns since epoch).
  std::map<std::string, uint64_t> last_crash_, last_app_;
};

}  // namespace rpfs::fs
