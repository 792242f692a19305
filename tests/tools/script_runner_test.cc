// RunScript (tools/plans/script_runner.h) with real /bin/sh scripts: exit codes
// and output, environment and directory, timeouts and cancellation that
// stop the script's whole process group, the 64 KiB output tail, signal
// dispositions and descriptors not leaked from rpfs.
#include "tools/plans/script_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "tests/test_support.h"

namespace rpfs::tools {
namespace {

using rpfs::testing::ReadFile;
using rpfs::testing::TempDir;

TEST(ScriptRunner, ExitCodeAndBothStreams) {
  ScriptResult r;
  std::string streamed;
  ScriptOptions o;
  o.output = [&](const std::string& chunk) { streamed += chunk; };
  ASSERT_TRUE(RunScript("echo to-out; echo to-err >&2; exit 7", o, &r).ok());
  EXPECT_EQ(7, r.exit_code);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.cancelled);
  EXPECT_NE(std::string::npos, r.output_tail.find("to-out"));
  EXPECT_NE(std::string::npos, r.output_tail.find("to-err"));
  EXPECT_EQ(r.output_tail, streamed);
  ASSERT_TRUE(RunScript("true", {}, &r).ok());
  EXPECT_EQ(0, r.exit_code);
}

TEST(ScriptRunner, EnvironmentOnTopAndWorkingDirectory) {
  TempDir dir;
  ::setenv("RPFS_SCRIPT_TEST_KEPT", "inherited", 1);
  ::setenv("RPFS_SCRIPT_TEST_OVER", "old", 1);
  ScriptOptions o;
  o.env = {{"RPFS_SCRIPT_TEST_OVER", "new"}, {"RPFS_MULTI", "a=1\nb=2"}};
  o.cwd = dir.path();
  ScriptResult r;
  ASSERT_TRUE(RunScript("echo \"$RPFS_SCRIPT_TEST_KEPT $RPFS_SCRIPT_TEST_OVER\"; pwd; "
                        "printf '%s\\n' \"$RPFS_MULTI\" | wc -l; env | grep -c '^RPFS_SCRIPT_TEST_OVER='",
                        o, &r)
                  .ok());
  EXPECT_EQ(0, r.exit_code) << r.output_tail;
  char real[4096];
  ASSERT_NE(nullptr, ::realpath(dir.path().c_str(), real));
  EXPECT_EQ("inherited new\n" + std::string(real) + "\n2\n1\n", r.output_tail);
}

// True if pid runs (a zombie does not: orphans may wait for a reaper
// that never comes in a container whose pid 1 does not reap).
bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string status = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = status.rfind(')');
  return paren != std::string::npos && paren + 2 < status.size() && status[paren + 2] != 'Z';
}

TEST(ScriptRunner, TimeoutStopsTheWholeProcessGroup) {
  TempDir dir;
  const std::string pid_file = dir.path() + "/bg.pid";
  ScriptOptions o;
  o.timeout_ms = 300;
  ScriptResult r;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunScript("sleep 30 & echo $! > " + pid_file + "; sleep 30", o, &r).ok());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(128 + SIGTERM, r.exit_code);
  EXPECT_LT(secs, 5.0);
  pid_t bg = std::stoi(ReadFile(pid_file));
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = !Alive(bg);
    if (!gone) ::usleep(20000);
  }
  EXPECT_TRUE(gone) << "the script's background child outlived its timeout";
}

TEST(ScriptRunner, ScriptIgnoringSigtermIsKilled) {
  ScriptOptions o;
  o.timeout_ms = 200;
  ScriptResult r;
  ASSERT_TRUE(RunScript("trap '' TERM; sleep 20", o, &r).ok());
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.seconds, 6.0);
  EXPECT_NE(0, r.exit_code);
}

TEST(ScriptRunner, CancelStopsTheScript) {
  auto t0 = std::chrono::steady_clock::now();
  ScriptOptions o;
  o.cancelled = [&] { return std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(200); };
  ScriptResult r;
  ASSERT_TRUE(RunScript("sleep 30", o, &r).ok());
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(ScriptRunner, KeepsTheLast64KiBOfOutput) {
  ScriptResult r;
  size_t streamed = 0;
  ScriptOptions o;
  o.output = [&](const std::string& chunk) { streamed += chunk.size(); };
  ASSERT_TRUE(RunScript("head -c 300000 /dev/zero | tr '\\0' a; echo END", o, &r).ok());
  EXPECT_EQ(0, r.exit_code);
  EXPECT_EQ(kScriptOutputKept, r.output_tail.size());
  EXPECT_EQ("aaaEND\n", r.output_tail.substr(r.output_tail.size() - 7));
  EXPECT_EQ(300004u, streamed);
}

TEST(ScriptRunner, DefaultSignalsAndNoInheritedDescriptors) {
  // rpfs ignores SIGPIPE; a script's pipeline must still end by it.
  ::signal(SIGPIPE, SIG_IGN);
  int leak = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(leak, 3);
  ScriptResult r;
  ASSERT_TRUE(RunScript("yes | head -n 1; ls /proc/$$/fd", {}, &r).ok());
  ::close(leak);
  EXPECT_EQ(0, r.exit_code) << r.output_tail;
  EXPECT_EQ(std::string::npos, r.output_tail.find("Broken pipe")) << r.output_tail;
  std::istringstream in(r.output_tail);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ("y", line);
  while (std::getline(in, line)) {
    EXPECT_TRUE(line == "0" || line == "1" || line == "2") << "descriptor " << line << " leaked";
  }
}

TEST(ScriptRunner, MissingDirectoryIsAnError) {
  ScriptOptions o;
  o.cwd = "/nonexistent/dir";
  ScriptResult r;
  Status s = RunScript("true", o, &r);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string::npos, s.message().find("/nonexistent/dir")) << s.ToString();
}

}  // namespace
}  // namespace rpfs::tools
