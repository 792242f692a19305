#include "tools/cli_support.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "tools/passphrase.h"

namespace rpfs::tools {

ExitCode ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kNotFound:
    case Status::Code::kInvalidArgument:
    case Status::Code::kAlreadyExists:
    case Status::Code::kBusy:
    case Status::Code::kNoSpace:
    case Status::Code::kReadOnly: return kExitUser;
    case Status::Code::kCorruption: return kExitCorrupt;
    case Status::Code::kIOError:
    case Status::Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

void Context::Fail(const Status& s) {
  err() << "rpfs: " << s.message() << std::endl;
  exit_code = ExitCodeFor(s);
}

void Context::Printf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out().write(buf, std::min<int>(n, sizeof buf - 1));
}

std::string Context::Path(const std::string& p) const {
  if (p.empty() || p[0] == '/' || cwd.empty()) return p;
  return cwd + "/" + p;
}

std::string Context::VaultDir() const {
  if (!vault_dir.empty()) return Path(vault_dir);
  const char* env = std::getenv("RPFS_VAULT");
  return env != nullptr ? env : "";
}

Status Context::OpenVault(std::shared_ptr<catalog::Vault>* out) {
  if (vault) {
    *out = vault;
    return Status::OK();
  }
  std::string dir = VaultDir();
  if (dir.empty()) return Status::InvalidArgument("no vault given: use --vault DIR or set RPFS_VAULT");
  catalog::OpenOptions o;
  // Asked for only if the vault is encrypted: others ignore the variable.
  o.passphrase = [known = passphrase, dir](std::string* p) {
    if (!known.empty()) {
      *p = known;
      return Status::OK();
    }
    return ReadVaultPassphrase(dir, "is encrypted", p);
  };
  std::unique_ptr<catalog::Vault> v;
  RPFS_RETURN_IF_ERROR(catalog::Vault::Open(dir, o, &v));
  for (const std::string& note : v->recovery_notes()) {
    err() << "rpfs: recovery: " << note << std::endl;
  }
  *out = std::move(v);
  return Status::OK();
}

Status ReadVaultPassphrase(const std::string& dir, const std::string& state,
                           std::string* passphrase) {
  const char* file = std::getenv("RPFS_PASSPHRASE_FILE");
  if (file != nullptr && *file != '\0') {
    Status s = ReadPassphraseFile(file, passphrase);
    if (!s.ok()) return Status::InvalidArgument("RPFS_PASSPHRASE_FILE: " + s.message());
    return Status::OK();
  }
  if (::isatty(STDIN_FILENO) == 1) {
    return PromptPassphrase("passphrase for vault " + dir + ": ", passphrase);
  }
  return Status::InvalidArgument("vault " + dir + " " + state +
                                 ": set RPFS_PASSPHRASE_FILE to a file holding its passphrase "
                                 "(or run on a terminal to be asked)");
}

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

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
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

namespace {
std::atomic<bool> stop_requested{false};
void NoteStop(int) { stop_requested = true; }
}  // namespace

void CatchStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = NoteStop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool StopRequested() { return stop_requested; }

}  // namespace rpfs::tools
