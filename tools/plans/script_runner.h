// Runs one plan script: `/bin/sh -c CMD` in its own process group, with
// extra environment variables, stdin from /dev/null, stdout and stderr
// into one pipe. Keeps the last 64 KiB of the output, hands every chunk
// to a callback as it comes, and stops the script (SIGTERM to its group,
// SIGKILL 2 s later) when its timeout passes or the caller cancels.
//
// Spawned with posix_spawn (no fork of a big multi-threaded daemon), the
// signal dispositions reset (rpfs ignores SIGPIPE; a script must not) and
// every descriptor above 2 closed, so a script never holds the vault's
// files or /dev/fuse. Background children of the script keep running
// when it exits; their output is no longer read.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "journal/status.h"

namespace rpfs::tools {

struct ScriptOptions {
  std::map<std::string, std::string> env;  // set on top of this process's environment
  std::string cwd;                          // "": this process's
  uint64_t timeout_ms = 0;                  // 0: none
  std::function<bool()> cancelled;          // polled every 100 ms
  std::function<void(const std::string&)> output;  // each chunk, as read
};

struct ScriptResult {
  int exit_code = 0;        // the shell's; 128 + N if signal N ended it
  bool timed_out = false;
  bool cancelled = false;
  std::string output_tail;  // the last 64 KiB of stdout and stderr
  double seconds = 0;
};

constexpr size_t kScriptOutputKept = 64 << 10;

// Non-ok only when the script could not be started or waited for; a
// script that fails is an ok Status with a non-zero result->exit_code.
Status RunScript(const std::string& command, const ScriptOptions& options, ScriptResult* result);

}  // namespace rpfs::tools
