#include "tools/plans/script_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

extern char** environ;

namespace rpfs::tools {
namespace {

using Clock = std::chrono::steady_clock;

// This process's environment with `extra` set on top.
std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos && extra.count(kv.substr(0, eq))) continue;
    env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

void KeepTail(std::string* tail, const char* data, size_t n) {
  tail->append(data, n);
  if (tail->size() > 2 * kScriptOutputKept) tail->erase(0, tail->size() - kScriptOutputKept);
}

}  // namespace

Status RunScript(const std::string& command, const ScriptOptions& options, ScriptResult* result) {
  *result = ScriptResult();
  const auto t0 = Clock::now();
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return Status::IOError(std::string("cannot make a pipe for a script: ") + std::strerror(errno));
  }
  SpawnSetup setup;
  int rc = posix_spawn_file_actions_addopen(&setup.actions_, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&setup.actions_, pipefd[1], 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&setup.actions_, pipefd[1], 2);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&setup.actions_, 3);
  if (rc == 0 && !options.cwd.empty()) {
    rc = posix_spawn_file_actions_addchdir_np(&setup.actions_, options.cwd.c_str());
  }
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&setup.attr_, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&setup.attr_, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&setup.attr_, &all);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(&setup.attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF);
  }
  std::vector<std::string> env = Environment(options.env);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  if (rc == 0) rc = posix_spawn(&pid, "/bin/sh", &setup.actions_, &setup.attr_, argv, envp.data());
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return Status::IOError("cannot start script '" + command + "': " + std::strerror(rc) +
                           (options.cwd.empty() ? "" : " (in " + options.cwd + ")"));
  }
  ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

  const auto deadline = t0 + std::chrono::milliseconds(options.timeout_ms);
  Clock::time_point kill_at{};  // set once SIGTERM went out
  bool pipe_open = true, exited = false;
  int status = 0;
  Clock::time_point exited_at{};
  char buf[16384];
  while (true) {
    if (pipe_open) {
      pollfd p{pipefd[0], POLLIN, 0};
      ::poll(&p, 1, 100);
      while (true) {
        ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n > 0) {
          KeepTail(&result->output_tail, buf, static_cast<size_t>(n));
          if (options.output) options.output(std::string(buf, static_cast<size_t>(n)));
          continue;
        }
        if (n == 0) pipe_open = false;
        break;  // EOF, EAGAIN or an error: poll again later
      }
    } else {
      ::usleep(20000);
    }
    if (!exited) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        exited_at = Clock::now();
      } else if (w < 0 && errno != EINTR) {
        ::close(pipefd[0]);
        return Status::IOError("cannot wait for script '" + command + "': " + std::strerror(errno));
      }
    }
    // Done once the script exited and its output was read; a background
    // child still holding the pipe gets 200 ms more.
    if (exited && (!pipe_open || Clock::now() - exited_at > std::chrono::milliseconds(200))) break;
    if (exited) continue;
    const auto now = Clock::now();
    if (kill_at == Clock::time_point{}) {
      bool stop = false;
      if (options.timeout_ms > 0 && now >= deadline) stop = result->timed_out = true;
      if (options.cancelled && options.cancelled()) stop = result->cancelled = true;
      if (stop) {
        ::kill(-pid, SIGTERM);
        kill_at = now + std::chrono::seconds(2);
      }
    } else if (now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = now + std::chrono::hours(24);
    }
  }
  ::close(pipefd[0]);
  if (result->output_tail.size() > kScriptOutputKept) {
    result->output_tail.erase(0, result->output_tail.size() - kScriptOutputKept);
  }
  result->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return Status::OK();
}

}  // namespace rpfs::tools
