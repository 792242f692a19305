// Sizes and durations as an operator types and reads them: "20G", "1.5GiB",
// "72h", "1h30m" in, "1.5 GiB", "72h" out. Shared by the CLI's option
// parsing and the subsystems' reports (plan files, replication status).
// Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "journal/status.h"

namespace rpfs::tools {

// "4096", "20G", "1.5GiB", "512K": bytes. Suffixes are powers of 1024.
Status ParseSize(std::string_view text, uint64_t* bytes);
// "72h", "5m", "30s", "15d", "1h30m": seconds.
Status ParseDuration(std::string_view text, uint64_t* seconds);  // "0" alone needs no unit
std::string FormatBytes(uint64_t bytes);     // "1.5 GiB"
std::string FormatDuration(uint64_t seconds);  // "72h", "5m"

}  // namespace rpfs::tools
