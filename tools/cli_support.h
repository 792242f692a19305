// What every rpfs command shares: the exit-code contract, opening the
// vault named by --vault / RPFS_VAULT, the passphrase prompt, stop signals;
// and, through tools/units.h and tools/progress.h, sizes and durations and
// a progress line that only shows on a terminal.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "catalog/vault.h"
#include "tools/progress.h"
#include "tools/units.h"

namespace rpfs::tools {

// DESIGN.md §3: 0 ok, 1 user error, 2 corruption found, 3 internal error.
enum ExitCode { kExitOk = 0, kExitUser = 1, kExitCorrupt = 2, kExitInternal = 3 };

ExitCode ExitCodeFor(const Status& s);

// State the command callbacks share; RunCli reads exit_code at the end.
// A command prints through out()/err() and names files through Path(), so
// the mount daemon can run it for a CLI on the control socket.
struct Context {
  std::string vault_dir;  // --vault, else $RPFS_VAULT
  int exit_code = kExitOk;
  // The vault passphrase, if a command has it already ("": OpenVault
  // reads it for an encrypted vault, see ReadVaultPassphrase).
  std::string passphrase;
  std::ostream* out_stream = &std::cout;
  std::ostream* err_stream = &std::cerr;
  std::string cwd;  // relative paths are taken from here when set
  std::shared_ptr<catalog::Vault> vault;  // already open (in the daemon)
  std::string mountpoint;                 // the daemon's mount ("": not mounted here)
  // Long commands poll it: true once the user wants them to stop (a
  // signal here, the client gone in the daemon). Unset: StopRequested().
  std::function<bool()> cancelled;

  std::ostream& out() { return *out_stream; }
  std::ostream& err() { return *err_stream; }
  void Printf(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  std::string Path(const std::string& p) const;
  // Prints "rpfs: <message>" on stderr and records the exit code.
  void Fail(const Status& s);
  // The vault of --vault / RPFS_VAULT (or the daemon's), printing any
  // recovery notes on stderr.
  Status OpenVault(std::shared_ptr<catalog::Vault>* out);
  std::string VaultDir() const;
};

// SIGINT/SIGTERM handlers that only note the request (for commands that
// run until stopped), and whether one came.
void CatchStopSignals();
bool StopRequested();

// Parses args (without argv[0]) and runs the command; returns the exit code.
int RunCli(const std::vector<std::string>& args, Context* ctx);

// The canonical absolute path of an existing file, else `path` unchanged.
std::string RealPath(const std::string& path);

// The passphrase of the vault at dir: the first line of the file named by
// $RPFS_PASSPHRASE_FILE, else asked on the terminal (no echo). Without
// either: InvalidArgument "vault DIR <state>: set RPFS_PASSPHRASE_FILE ...",
// e.g. state "is encrypted".
Status ReadVaultPassphrase(const std::string& dir, const std::string& state,
                           std::string* passphrase);

}  // namespace rpfs::tools
