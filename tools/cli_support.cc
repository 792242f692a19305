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

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
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
