#include "catalog/group_point.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

extern char** environ;

namespace rpfs::catalog {
namespace {

Status RunHook(const std::string& operation, const std::string& group, const std::string& cmd) {
  if (cmd.empty()) return Status::OK();
  // Everything the child needs is built before fork: it only calls execve.
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) env_s.push_back(*e);
  env_s.push_back("RPFS_GROUP=" + group);
  env_s.push_back("RPFS_OPERATION=" + operation);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", command = cmd;
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork for the " + operation + " hook");
  if (pid == 0) {
    ::execve("/bin/sh", argv, envp.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::InvalidArgument(
        operation + " hook of group " + group + " failed (" + cmd + ", " +
        (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                           : "signal " + std::to_string(WTERMSIG(status))) +
        ")");
  }
  return Status::OK();
}

}  // namespace

Status TakeGroupPoint(Vault& vault, const std::string& group, bool app, const std::string& label,
                      Point* point) {
  Group g;
  RPFS_RETURN_IF_ERROR(vault.GetGroup(group, &g));
  if (!app) return vault.CreatePoint(group, "crash", label, point);
  RPFS_RETURN_IF_ERROR(RunHook("freeze", g.name, g.freeze_hook));
  Status s = vault.CreatePoint(group, "app", label, point);
  Status thaw = RunHook("thaw", g.name, g.thaw_hook);
  RPFS_RETURN_IF_ERROR(s);
  return thaw;
}

}  // namespace rpfs::catalog
