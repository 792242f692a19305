// Retention through a mount: `group set` and `prune` work forwarded to the
// daemon, and the daemon itself expires points past the window: they
// leave points/, `point list`, and cannot be opened any more.
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "tests/integration/mount_fixture.h"

namespace rpfs::testing {
namespace {

class RetentionMountTest : public MountedVault {};

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

TEST_F(RetentionMountTest, DaemonExpiresPointsPastTheWindow) {
  std::string older = TakePoint("g");  // expires too, once the window shrinks
  CliResult r = Rpfs({"group", "set", "g", "--retention", "3s", "--crash-every", "1h"});
  EXPECT_NE(std::string::npos, r.out.find("retention 3s")) << r.out;
  r = Rpfs({"group", "list"});
  EXPECT_NE(std::string::npos, r.out.find("3s")) << r.out;
  std::string id = TakePoint("g");
  ASSERT_TRUE(Exists(Flat("points/" + id))) << "point " << id << " not in the mount";

  // The daemon checks every second; the window is 3 s.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = Rpfs({"point", "list"}).out.find("\n" + id + " ") == std::string::npos;
  }
  EXPECT_TRUE(gone) << "point " << id << " still listed after 10 s";
  EXPECT_EQ(std::string::npos, Rpfs({"point", "list"}).out.find("\n" + older + " "));
  // The kernel may hold the name for its 1 s entry cache.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_FALSE(Exists(mnt_ + "/points/" + id));
  CliResult ls = RunProgram({"ls", mnt_ + "/points"});
  EXPECT_EQ(std::string::npos, ls.out.find(id + "\n")) << ls.out;

  // prune (forwarded to the daemon) finds nothing left to expire and runs
  // a compaction pass.
  r = Rpfs({"prune"});
  EXPECT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("0 points expired")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("compaction: rewrote")) << r.out;

  // Bad input: one line naming what.
  r = RunRpfs({"--vault", vault_, "group", "set", "nope", "--retention", "1h"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("unknown group 'nope'")) << r.err;
  r = RunRpfs({"--vault", vault_, "group", "set", "g", "--retention", "soon"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("bad duration 'soon'")) << r.err;
}

}  // namespace
}  // namespace rpfs::testing
