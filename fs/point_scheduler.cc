#include "fs/point_scheduler.h"

#include <chrono>

#include "catalog/group_point.h"

namespace rpfs::fs {

PointScheduler::PointScheduler(std::shared_ptr<catalog::Vault> vault) : vault_(std::move(vault)) {}

PointScheduler::~PointScheduler() { Stop(); }

void PointScheduler::Start() {
  // Schedules continue from the newest point of each kind.
  for (const catalog::Point& p : vault_->ListPoints("")) {
    auto& last = p.kind == "app" ? last_app_ : last_crash_;
    last[p.group] = std::max(last[p.group], p.time_ns);
  }
  thread_ = std::thread([this] { Loop(); });
}

void PointScheduler::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PointScheduler::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    Tick();
    l.lock();
    wake_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; });
  }
}

void PointScheduler::Tick() {
  const uint64_t now = vault_->Now();
  for (const catalog::Group& g : vault_->ListGroups()) {
    // A replica's points come from its source vault.
    if (!g.replica_of.empty() && g.replica_branch == g.active_branch) continue;
    for (bool app : {false, true}) {
      const uint64_t every_ns = (app ? g.app_every_s : g.crash_every_s) * 1000000000ull;
      if (every_ns == 0) continue;
      uint64_t& last = (app ? last_app_ : last_crash_)[g.name];
      if (last == 0) last = g.created_ns;
      if (now < last + every_ns) continue;
      last = now;  // also on failure: retry at the next interval
      catalog::Point p;
      (void)catalog::TakeGroupPoint(*vault_, g.name, app, "", &p);
    }
  }
  // Retention: points past their group's window expire (a failure is
  // retried next tick; `rpfs prune` reports errors).
  std::vector<catalog::Point> expired;
  (void)vault_->ExpirePoints(&expired);
}

}  // namespace rpfs::fs
