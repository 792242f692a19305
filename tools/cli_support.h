// What every rpfs command shares: the exit-code contract, opening the
// vault named by --vault / RPFS_VAULT, parsing sizes and durations, and a
// progress line that only shows on a terminal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "catalog/vault.h"

namespace rpfs::tools {

// DESIGN.md §3: 0 ok, 1 user error, 2 corruption found, 3 internal error.
enum ExitCode { kExitOk = 0, kExitUser = 1, kExitCorrupt = 2, kExitInternal = 3 };

ExitCode ExitCodeFor(const Status& s);

// State the command callbacks share; main() reads exit_code at the end.
struct Context {
  std::string vault_dir;  // --vault, else $RPFS_VAULT
  int exit_code = kExitOk;

  // Prints "rpfs: <message>" on stderr and records the exit code.
  void Fail(const Status& s);
  // Opens the vault, printing any recovery notes on stderr.
  Status OpenVault(std::unique_ptr<catalog::Vault>* out);
};

// "4096", "20G", "1.5GiB", "512K": bytes. Suffixes are powers of 1024.
Status ParseSize(std::string_view text, uint64_t* bytes);
// "72h", "5m", "30s", "15d", "1h30m": seconds.
Status ParseDuration(std::string_view text, uint64_t* seconds);
std::string FormatBytes(uint64_t bytes);     // "1.5 GiB"
std::string FormatDuration(uint64_t seconds);  // "72h", "5m"

// A one-line progress display on stderr when it is a terminal.
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
