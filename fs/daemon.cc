#include "fs/daemon.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fs/background_compactor.h"
#include "fs/fuse_ops.h"
#include "fs/point_scheduler.h"

namespace rpfs::fs {
namespace {

bool IsOctal(const std::string& s, size_t at) {
  for (size_t i = at; i < at + 3; ++i) {
    if (s[i] < '0' || s[i] > '7') return false;
  }
  return true;
}

// The device number ("MAJ:MIN") of the newest mount on `path` (a real
// path), from /proc/self/mountinfo: not by stat, which would ask the FUSE
// session, not yet served, and hang. Empty if not found.
std::string MountDevice(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, where;
    if (!(f >> id >> parent >> dev >> root >> where)) continue;
    std::string unescaped;  // mountinfo writes space, tab, newline, backslash as \ooo
    for (size_t i = 0; i < where.size(); ++i) {
      if (where[i] == '\\' && i + 3 < where.size() && IsOctal(where, i + 1)) {
        unescaped += static_cast<char>((where[i + 1] - '0') * 64 + (where[i + 2] - '0') * 8 +
                                       (where[i + 3] - '0'));
        i += 3;
      } else {
        unescaped += where[i];
      }
    }
    if (unescaped == path) found = dev;
  }
  return found;
}

// Sets the mount's readahead (its bdi's read_ahead_kb in sysfs). Best
// effort: without the right to, the kernel's 128 KiB stays.
void SetReadahead(const std::string& real_mountpoint, unsigned kib) {
  if (kib == 0 || real_mountpoint.empty()) return;
  const std::string dev = MountDevice(real_mountpoint);
  if (dev.empty()) return;
  int fd = ::open(("/sys/class/bdi/" + dev + "/read_ahead_kb").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  const std::string value = std::to_string(kib);
  (void)!::write(fd, value.data(), value.size());
  ::close(fd);
}

// Opens the vault, mounts, and serves until unmounted. `ready` is called
// once the mount is up, or with the error that kept it down.
Status Serve(const MountOptions& o, const std::function<void(const Status&)>& ready) {
  std::unique_ptr<catalog::Vault> opened;
  Status s = catalog::Vault::Open(o.vault_dir, o.open, &opened);
  if (!s.ok()) {
    ready(s);
    return s;
  }
  opened->NoteOwnerPid();
  auto state = std::make_unique<FuseState>(std::shared_ptr<catalog::Vault>(std::move(opened)));

  std::vector<std::string> argv_s = {"rpfs", "-o", "fsname=rpfs:" + o.vault_dir + ",subtype=rpfs"};
  for (const std::string& opt : o.fuse_options) {
    argv_s.push_back("-o");
    argv_s.push_back(opt);
  }
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  // fuse_session_new may grow args on the heap: freed however Serve leaves.
  struct ArgsFree {
    fuse_args* a;
    ~ArgsFree() { fuse_opt_free_args(a); }
  } args_free{&args};
  const fuse_lowlevel_ops& ops = RpfsFuseOps();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, state.get());
  if (se == nullptr) {
    s = Status::InvalidArgument("cannot start a FUSE session (bad -o option?)");
    ready(s);
    return s;
  }
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    s = Status::Internal("cannot install signal handlers");
    ready(s);
    return s;
  }
  // Resolved before the mount: afterwards the path leads into the session.
  std::string real_mountpoint;
  if (char* r = ::realpath(o.mountpoint.c_str(), nullptr)) {
    real_mountpoint = r;
    std::free(r);
  }
  if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    s = Status::InvalidArgument("cannot mount on " + o.mountpoint +
                                " (does it exist, and is /dev/fuse usable?)");
    ready(s);
    return s;
  }
  SetReadahead(real_mountpoint, o.readahead_kib);
  ControlServer control;
  if (o.control) {
    std::shared_ptr<catalog::Vault> vault = state->vault;
    auto handler = o.control;
    s = control.Start(ControlSocketPath(o.vault_dir),
                      [vault, handler](const ControlRequest& r, const ControlStream& st) {
                        return handler(vault, r, st);
                      });
    if (!s.ok()) {
      fuse_session_unmount(se);
      fuse_remove_signal_handlers(se);
      fuse_session_destroy(se);
      ready(s);
      return s;
    }
  }
  PointScheduler scheduler(state->vault);
  scheduler.Start();
  BackgroundCompactor compactor(state->vault, o.compact_every_s, o.compact, o.defrag_quiet_s);
  compactor.Start();
  ready(Status::OK());
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 1);
  fuse_loop_cfg_set_max_threads(cfg, o.max_threads);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  compactor.Stop();
  scheduler.Stop();
  control.Stop();
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  // Make every acknowledged write durable before the vault closes.
  s = state->vault->Sync();
  state.reset();
  if (!s.ok()) return s;
  return rc == 0 ? Status::OK() : Status::Internal("FUSE session loop failed");
}

}  // namespace

Status RunMount(const MountOptions& o) {
  if (o.foreground) return Serve(o, [](const Status&) {});
  // Fork before the vault is opened (LMDB environments must not cross a
  // fork); the child reports over a pipe whether the mount came up.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    ::close(pipefd[0]);
    ::setsid();
    Status s = Serve(o, [&](const Status& st) {
      std::string msg = st.ok() ? "ok" : std::to_string(static_cast<int>(st.code())) + ":" + st.message();
      (void)!::write(pipefd[1], msg.data(), msg.size());
      ::close(pipefd[1]);
      if (st.ok()) {
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2) ::close(null);
      }
    });
    _exit(s.ok() ? 0 : 1);
  }
  ::close(pipefd[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  if (msg == "ok") return Status::OK();
  int status;
  ::waitpid(pid, &status, 0);
  size_t colon = msg.find(':');
  if (colon == std::string::npos) return Status::Internal("mount daemon exited before mounting");
  std::string text = msg.substr(colon + 1);
  switch (std::atoi(msg.substr(0, colon).c_str())) {
    case static_cast<int>(Status::Code::kBusy): return Status::Busy(text);
    case static_cast<int>(Status::Code::kNotFound): return Status::NotFound(text);
    case static_cast<int>(Status::Code::kCorruption): return Status::Corruption(text);
    case static_cast<int>(Status::Code::kInvalidArgument): return Status::InvalidArgument(text);
    default: return Status::Internal(text);
  }
}

}  // namespace rpfs::fs
