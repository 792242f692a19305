// RFC 3339 instants ("2026-11-25T21:53:32Z", "...T22:53:32.250+01:00"),
// as nanoseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "journal/status.h"

namespace rpfs::catalog {

Status ParseRfc3339(std::string_view text, uint64_t* ns);
std::string FormatRfc3339(uint64_t ns);  // UTC, with milliseconds

}  // namespace rpfs::catalog
