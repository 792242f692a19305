// The mount as DESIGN.md §2 draws it, checked with tools nobody here
// wrote: qemu-img, fio, mkfs.ext4, debugfs, e2fsck, sha256sum.
#include <gtest/gtest.h>

#include <sys/sysmacros.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/mount_fixture.h"

namespace rpfs::testing {
namespace {

class MountTest : public MountedVault {};

TEST_F(MountTest, LayoutAndReadOnlyTrees) {
  auto r = RunProgram({"ls", mnt_, mnt_ + "/disks/vm"});
  EXPECT_NE(std::string::npos, r.out.find("branches")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("d0-flat.vmdk")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("d0.vmdk")) << r.out;
  RunProgram({"dd", "if=/dev/urandom", "of=" + Flat(), "bs=1M", "count=2", "conv=notrunc,fsync"});
  std::string id = TakePoint("g", /*app=*/true);
  std::string pflat = Flat("points/" + id);
  EXPECT_EQ(64u << 20, FileSize(pflat));
  // Read-only: writes and truncates get EROFS.
  r = RunProgram({"dd", "if=/dev/zero", "of=" + pflat, "bs=4k", "count=1", "conv=notrunc"});
  EXPECT_NE(0, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("Read-only file system")) << r.err;
  r = RunProgram({"truncate", "-s", "1M", pflat});
  EXPECT_NE(0, r.exit_code);
  // The latest-app symlink names the point.
  char target[64] = {};
  ASSERT_GT(::readlink((mnt_ + "/points/latest-app").c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(id, std::string(target));
  // A write past the disk end is refused, never a silent grow.
  r = RunProgram({"dd", "if=/dev/zero", "of=" + Flat(), "bs=4k", "count=1", "seek=16384", "conv=notrunc"});
  EXPECT_NE(0, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("No space left")) << r.err;
  EXPECT_EQ(64u << 20, FileSize(Flat()));
  // at/#seq and at/<time> resolve on lookup; at/ itself lists nothing.
  auto st = nlohmann::json::parse(Rpfs({"stat", "--json"}).out);
  std::string seq = std::to_string(st["last_seq"].get<uint64_t>());
  EXPECT_EQ(0, RunProgram({"cmp", Flat("at/#" + seq), pflat}).exit_code);
  EXPECT_EQ("", RunProgram({"ls", mnt_ + "/at"}).out);
}

// The kernel reads ahead 4 MiB on the mount (128 KiB is FUSE's default),
// so a sequential reader keeps several large reads in flight.
TEST_F(MountTest, KernelReadsAheadFourMiB) {
  struct stat st;
  ASSERT_EQ(0, ::stat(Flat().c_str(), &st));
  const std::string knob = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                           std::to_string(minor(st.st_dev)) + "/read_ahead_kb";
  auto r = RunProgram({"cat", knob});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ("4096\n", r.out);
}

TEST_F(MountTest, QemuImgReadsTheDescriptorAndMatchesExport) {
  auto r = RunProgram({"qemu-img", "info", "--output=json", mnt_ + "/disks/vm/d0.vmdk"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ("vmdk", info["format"]);
  EXPECT_EQ(64ull << 20, info["virtual-size"].get<uint64_t>());
  RunProgram({"dd", "if=/dev/urandom", "of=" + Flat(), "bs=64k", "count=50", "seek=7", "conv=notrunc"});
  std::string out = dir_ / "latest.raw";
  Rpfs({"export", "vm/d0", "--point", "latest", "--format", "raw", out});
  r = RunProgram({"qemu-img", "compare", "-f", "vmdk", "-F", "raw", mnt_ + "/disks/vm/d0.vmdk", out});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  EXPECT_NE(std::string::npos, r.out.find("Images are identical")) << r.out;
}

TEST_F(MountTest, FioVerifiesLiveDiskAndPointAfterOverwrite) {
  auto r = RunProgram({"fio", "--name=w", "--filename=" + Flat(), "--rw=randwrite", "--bs=4k",
                "--size=16M", "--verify=crc32c", "--do_verify=1", "--direct=1",
                "--ioengine=psync"});
  ASSERT_EQ(0, r.exit_code) << r.out << r.err;
  std::string id = TakePoint("g");
  // Overwrite the same range with different data.
  r = RunProgram({"dd", "if=/dev/urandom", "of=" + Flat(), "bs=1M", "count=16", "conv=notrunc,fsync"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  r = RunProgram({"fio", "--name=v", "--filename=" + Flat("points/" + id), "--rw=read", "--bs=4k",
           "--size=16M", "--verify=crc32c", "--verify_only", "--readonly"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  // The live disk no longer verifies: the point really is a different image.
  r = RunProgram({"fio", "--name=v", "--filename=" + Flat(), "--rw=read", "--bs=4k", "--size=16M",
           "--verify=crc32c", "--verify_only", "--readonly"});
  EXPECT_NE(0, r.exit_code);
}

TEST_F(MountTest, Ext4PointShowsExactlyTheFilesOfItsMoment) {
  auto r = RunProgram({"mkfs.ext4", "-q", "-F", Flat()});
  ASSERT_EQ(0, r.exit_code) << r.err;
  WriteFile(dir_ / "a.txt", "first file\n");
  WriteFile(dir_ / "b.txt", "second file\n");
  r = RunProgram({"debugfs", "-w", "-R", "write " + (dir_ / "a.txt") + " a.txt", Flat()});
  ASSERT_EQ(0, r.exit_code) << r.err;
  std::string id = TakePoint("g");
  r = RunProgram({"debugfs", "-w", "-R", "write " + (dir_ / "b.txt") + " b.txt", Flat()});
  ASSERT_EQ(0, r.exit_code) << r.err;
  std::string pflat = Flat("points/" + id);
  r = RunProgram({"e2fsck", "-fn", pflat});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  r = RunProgram({"debugfs", "-R", "ls", pflat});
  EXPECT_NE(std::string::npos, r.out.find("a.txt")) << r.out;
  EXPECT_EQ(std::string::npos, r.out.find("b.txt")) << r.out;
  r = RunProgram({"debugfs", "-R", "ls", Flat()});
  EXPECT_NE(std::string::npos, r.out.find("b.txt")) << r.out;
  EXPECT_EQ(0, RunProgram({"e2fsck", "-fn", Flat()}).exit_code);
}

TEST_F(MountTest, PointBytesStayStableWhileTheLiveDiskIsHammered) {
  RunProgram({"dd", "if=/dev/urandom", "of=" + Flat(), "bs=1M", "count=32", "conv=notrunc,fsync"});
  std::string id = TakePoint("g");
  std::string pflat = Flat("points/" + id);
  std::string before = RunProgram({"sha256sum", pflat}).out.substr(0, 64);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done) {
      RunProgram({"dd", "if=/dev/urandom", "of=" + Flat(), "bs=64k", "count=64", "conv=notrunc"});
    }
  });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(before, RunProgram({"sha256sum", pflat}).out.substr(0, 64));
  }
  done = true;
  writer.join();
  EXPECT_EQ(before, RunProgram({"sha256sum", pflat}).out.substr(0, 64));
  EXPECT_NE(before, RunProgram({"sha256sum", Flat()}).out.substr(0, 64));
}

TEST_F(MountTest, CommandsWorkWhileMountedAndDataSurvivesRemount) {
  RunProgram({"dd", "if=/dev/urandom", "of=" + (dir_ / "data"), "bs=1M", "count=3"});
  RunProgram({"dd", "if=" + (dir_ / "data"), "of=" + Flat(), "bs=1M", "seek=5", "conv=notrunc,fsync"});
  auto r = Rpfs({"point", "list", "--json"});
  EXPECT_TRUE(nlohmann::json::parse(r.out).is_array());
  r = Rpfs({"verify"});
  EXPECT_NE(std::string::npos, r.out.find("clean")) << r.out;
  Unmount();
  Mount();
  r = RunProgram({"cmp", "-n", std::to_string(3 << 20), "-i", std::to_string(5 << 20) + ":0", Flat(),
           dir_ / "data"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

}  // namespace
}  // namespace rpfs::testing

namespace rpfs::testing {
namespace {

TEST_F(MountTest, DaemonTakesPointsOnTheGroupSchedule) {
  std::string froze = dir_ / "froze", thawed = dir_ / "thawed";
  Rpfs({"group", "create", "s", "--crash-every", "1s", "--app-every", "2s", "--freeze-hook",
        "echo $RPFS_OPERATION $RPFS_GROUP >> " + froze, "--thaw-hook",
        "echo $RPFS_OPERATION $RPFS_GROUP >> " + thawed});
  Rpfs({"disk", "create", "vm2/d", "--size", "8M", "--group", "s"});
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  auto points = nlohmann::json::parse(Rpfs({"point", "list", "s", "--json"}).out);
  int crash = 0, app = 0;
  for (auto& p : points) (p["kind"] == "app" ? app : crash)++;
  EXPECT_GE(crash, 2) << points.dump();
  EXPECT_GE(app, 1) << points.dump();
  EXPECT_NE(std::string::npos, ReadFile(froze).find("freeze s")) << ReadFile(froze);
  EXPECT_NE(std::string::npos, ReadFile(thawed).find("thaw s")) << ReadFile(thawed);
  // The group of the fixture keeps its 5-minute default: no points yet.
  EXPECT_EQ("[]", nlohmann::json::parse(Rpfs({"point", "list", "g", "--json"}).out).dump());
  // An explicit app point while mounted reports how long writes were held.
  auto r = Rpfs({"point", "create", "s", "--app"});
  EXPECT_NE(std::string::npos, r.out.find("writes held")) << r.out;
}

}  // namespace
}  // namespace rpfs::testing
