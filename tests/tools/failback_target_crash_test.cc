// A failback killed at any point and run again: for every write, truncate
// and fdatasync a sparse FailbackTarget makes during a run of writes and
// its Sync() (tools/dr/failback_target.h), a forked child is SIGKILLed just
// before that call; the file it leaves must still be a valid VMDK
// (`qemu-img check`, the import's reader) that a fresh FailbackTarget
// opens, and rerunning the same writes must make it identical to the raw
// reference (`qemu-img compare`) with both grain table copies agreeing.
// The same for a raw image, where every write lands in place.
//
// qemu-img and qemu-io (Debian qemu-utils) are required: without them these tests fail.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"
#include "tests/tools/failback_target_images.h"
#include "tools/dr/failback_target.h"

namespace rpfs::testing {
namespace {

using tools::FailbackTarget;

// Opens path, applies pieces and syncs; empty on success, else the error.
std::string OpenWriteSync(const std::string& path, const std::vector<Piece>& pieces) {
  std::unique_ptr<FailbackTarget> t;
  Status s = FailbackTarget::Open(path, &t);
  if (s.ok()) s = ApplyTo(*t, pieces);
  if (s.ok()) s = t->Sync();
  return s.ok() ? std::string() : s.ToString();
}

// Runs `pieces` on path in a child killed just before its kill_at-th
// (1-based) file operation. Returns false if the child finished first, and
// the label of the operation it died before in *what.
bool RunKilled(const std::string& path, const std::vector<Piece>& pieces, int kill_at,
               std::string* what) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int calls = 0;
    tools::SetFailbackTargetHookForTesting([&](std::string_view label) {
      if (++calls == kill_at) {
        (void)!::write(fds[1], label.data(), label.size());
        ::kill(::getpid(), SIGKILL);
      }
    });
    _exit(OpenWriteSync(path, pieces).empty() ? 0 : 1);
  }
  ::close(fds[1]);
  char buf[128];
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's run failed";
    return false;
  }
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  what->assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return true;
}

class FailbackTargetCrashTest : public ::testing::Test {
 protected:
  // Kills a run of `pieces` on a copy of `image` at each point in turn,
  // checks the leftovers, reruns and compares with ref + pieces.
  void KillAtEveryPoint(const std::string& image, bool sparse, const std::string& ref,
                        const std::vector<Piece>& pieces) {
    const std::string work = dir_ / (sparse ? "work.vmdk" : "work.raw");
    ApplyToReference(ref, pieces);
    int kill_at = 1;
    for (;; ++kill_at) {
      SCOPED_TRACE("killed before call " + std::to_string(kill_at));
      ASSERT_TRUE(Ran({"cp", "--sparse=always", image, work}));
      std::string what;
      if (!RunKilled(work, pieces, kill_at, &what)) break;
      labels_.insert(what.substr(0, what.find_first_of("0123456789")));
      if (sparse) {
        ASSERT_TRUE(Ran({"qemu-img", "check", "-q", "-f", "vmdk", work})) << "before " << what;
        ASSERT_TRUE(ImportReaderAccepts(work)) << "before " << what;
      }
      ASSERT_EQ(OpenWriteSync(work, pieces), "") << "rerun after a kill before " << what;
      ASSERT_TRUE(sparse ? SparseMatches(ref, work) : SameAsReference(ref, work, false))
          << "rerun after a kill before " << what;
    }
    points_ = kill_at - 1;
    // The uninterrupted run gives the same file.
    ASSERT_TRUE(sparse ? SparseMatches(ref, work) : SameAsReference(ref, work, false));
  }

  TempDir dir_;
  std::set<std::string> labels_;
  int points_ = 0;
};

TEST_F(FailbackTargetCrashTest, SparseRerunRepairsAKillAtEveryPoint) {
  const std::string image = dir_ / "disk.vmdk", ref = dir_ / "ref.raw";
  ASSERT_TRUE(MakeTargetAndReference(image, "monolithicSparse", 40 * kMiB,
                                     {"write -P 0x11 0 256k", "write -P 0x22 33M 64k"}, ref));
  const std::vector<Piece> pieces = Join({
      Blocks(64 * kKiB, 2, 1),                    // allocated grain, in place
      Blocks(kMiB + 8 * kKiB, 3, 2),              // new grain, partial, several blocks
      {{2 * kMiB, 2 * kGrain, 3}},                // two whole new grains, one write
      {{3 * kMiB, kGrain, 0}},                    // zeros into an unallocated grain
      Blocks(33 * kMiB + 4 * kKiB, 1, 0),         // zeros into an allocated grain
      Blocks(34 * kMiB, 2, 4),                    // a new grain in the second table
  });
  KillAtEveryPoint(image, true, ref, pieces);
  // 10 data writes (the two-grain write is two), 4 new grains (16, 32, 33,
  // 544), the flush: sync, 3 runs of entries per copy ({16}, {32, 33},
  // {544}) with a sync between the copies, and Sync's own sync.
  EXPECT_EQ(points_, 10 + 4 + 1 + 3 + 1 + 3 + 1);
  EXPECT_EQ(labels_, (std::set<std::string>{"data", "new grain", "sync", "redundant grain table ",
                                            "grain table "}));
}

TEST_F(FailbackTargetCrashTest, RawRerunRepairsAKillAtEveryPoint) {
  const std::string image = dir_ / "disk.raw", ref = dir_ / "ref.raw";
  ASSERT_TRUE(MakeTargetAndReference(image, "raw", 4 * kMiB, {"write -P 0x11 0 1M"}, ref));
  const std::vector<Piece> pieces =
      Join({Blocks(0, 4, 1), {{2 * kMiB, kMiB, 2}}, Blocks(4 * kMiB - 4 * kKiB, 1, 3)});
  KillAtEveryPoint(image, false, ref, pieces);
  EXPECT_EQ(points_, 7);  // 6 writes and the sync
  EXPECT_EQ(labels_, (std::set<std::string>{"data", "sync"}));
}

}  // namespace
}  // namespace rpfs::testing
