#include "tools/units.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rpfs::tools {

Status ParseSize(std::string_view text, uint64_t* bytes) {
  Status bad = Status::InvalidArgument("bad size '" + std::string(text) +
                                       "': expected a number with an optional K, M, G, T suffix");
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return bad;
  std::string num(text.substr(0, i));
  if (std::count(num.begin(), num.end(), '.') > 1) return bad;
  std::string suffix(text.substr(i));
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() > 1 && (suffix.ends_with("IB") || suffix.ends_with("B"))) {
    suffix = suffix.substr(0, 1);
  }
  double mult = 1;
  if (suffix.empty() || suffix == "B") mult = 1;
  else if (suffix == "K") mult = 1024.0;
  else if (suffix == "M") mult = 1024.0 * 1024;
  else if (suffix == "G") mult = 1024.0 * 1024 * 1024;
  else if (suffix == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (suffix == "P") mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else return bad;
  double v = std::strtod(num.c_str(), nullptr) * mult;
  if (!std::isfinite(v) || v >= 1.8e19) return bad;
  if (v != std::floor(v)) return bad;
  *bytes = static_cast<uint64_t>(v);
  return Status::OK();
}

Status ParseDuration(std::string_view text, uint64_t* seconds) {
  Status bad = Status::InvalidArgument("bad duration '" + std::string(text) +
                                       "': expected e.g. 30s, 5m, 72h, 15d, 1h30m");
  if (text.empty()) return bad;
  if (text == "0") {  // "never" or "none" needs no unit
    *seconds = 0;
    return Status::OK();
  }
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    uint64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + static_cast<uint64_t>(text[i] - '0');
      if (n > (1ull << 40)) return bad;
      ++i;
    }
    if (i == start || i == text.size()) return bad;
    switch (text[i++]) {
      case 's': total += n; break;
      case 'm': total += n * 60; break;
      case 'h': total += n * 3600; break;
      case 'd': total += n * 86400; break;
      case 'w': total += n * 7 * 86400; break;
      default: return bad;
    }
  }
  *seconds = total;
  return Status::OK();
}

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string FormatDuration(uint64_t s) {
  if (s == 0) return "0s";
  // Days only from a week up: "72h" reads as operators write it.
  if (s % 86400 == 0 && s >= 7 * 86400) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace rpfs::tools
