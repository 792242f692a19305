// A one-line progress display on stderr, shown only when stderr is a
// terminal (so scripts and logs see nothing of it). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace rpfs::tools {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void Update(uint64_t done, uint64_t total);

 private:
  std::string label_;
  bool enabled_;
  int last_percent_ = -1;
};

}  // namespace rpfs::tools
