#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

namespace rpfs::tools {

Progress::Progress(std::string label) : label_(std::move(label)), enabled_(::isatty(2) == 1) {}

Progress::~Progress() {
  if (enabled_ && last_percent_ >= 0) std::fprintf(stderr, "\n");
}

void Progress::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  int pct = static_cast<int>(done * 100 / total);
  if (pct == last_percent_) return;
  last_percent_ = pct;
  int bars = pct / 5;
  std::fprintf(stderr, "\r%s [%-20s] %3d%%", label_.c_str(), std::string(bars, '#').c_str(), pct);
  std::fflush(stderr);
}

}  // namespace rpfs::tools
