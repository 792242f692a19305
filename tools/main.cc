// rpfs: the command line. Each command lives in tools/commands/; while the
// vault is mounted, commands go to the mount daemon's control socket.
#include <sys/file.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "fs/control_socket.h"
#include "tools/commands/commands.h"

namespace {

using rpfs::tools::Context;

// True if the vault's lock is held by another process right now.
bool VaultLocked(const std::string& dir) {
  int fd = ::open((dir + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return locked;
}

// Sends the command to the mount daemon when the vault is mounted.
bool ForwardIfMounted(const std::vector<std::string>& args, int* exit_code) {
  std::string vault, command;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help" || args[i] == "--help-all") return false;
    if (args[i] == "--vault" && i + 1 < args.size()) {
      vault = args[++i];
    } else if (command.empty() && args[i].rfind("-", 0) != 0) {
      command = args[i];
    }
  }
  if (command.empty() || command == "init" || command == "mount" || command == "umount") return false;
  if (vault.empty()) {
    const char* env = std::getenv("RPFS_VAULT");
    if (env == nullptr) return false;
    vault = env;
  }
  if (!VaultLocked(vault)) return false;
  rpfs::fs::ControlRequest req;
  req.args = args;
  char cwd[4096];
  req.cwd = ::getcwd(cwd, sizeof cwd) != nullptr ? cwd : "/";
  rpfs::fs::ControlResponse resp;
  auto print = [](const std::string& out, const std::string& err) {
    std::cout << out << std::flush;
    std::cerr << err << std::flush;
  };
  rpfs::Status s = rpfs::fs::SendControlRequest(rpfs::fs::ControlSocketPath(vault), req, &resp, print);
  if (s.IsNotFound()) return false;  // no daemon there: the command reports the lock itself
  if (!s.ok()) {
    // The daemon took the command and went away (killed?): its outcome is unknown.
    std::cerr << "rpfs: " << s.message() << std::endl;
    *exit_code = 3;
    return true;
  }
  std::cout << resp.out << std::flush;
  std::cerr << resp.err << std::flush;
  *exit_code = resp.exit_code;
  return true;
}

}  // namespace

// Keeps freed memory in the process instead of handing it back to the
// kernel at once. The write path allocates and frees in waves (index
// tables of 2^18 versions, LMDB's dirty pages at each flush, 1-4 MiB
// request and batch buffers); with glibc's defaults each wave gets fresh
// pages, and a page fault costs microseconds on a VM: 10-15% of the mount
// daemon's CPU on sequential writes. Memory is still returned once more
// than 256 MiB sits free at the top of the heap.
static void KeepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);   // the largest glibc takes; bigger blocks are mmapped
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int main(int argc, char** argv) {
  KeepFreedMemory();
  // A peer that hangs up (replication over TCP, a killed control client)
  // must be an error on the write, not the end of this process.
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  int code;
  if (ForwardIfMounted(args, &code)) return code;
  Context ctx;
  return rpfs::tools::RunCli(args, &ctx);
}
