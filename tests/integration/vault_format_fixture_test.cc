// Vaults written by an earlier rpfs (tests/fixtures/vault_format_1, made
// before the re-layout of issue 23) open, verify and read back with this
// binary exactly as that binary read them: the on-disk format and the CLI's
// output did not move. A plain and an encrypted vault.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

const std::string kFixture = std::string(RPFS_SOURCE_DIR) + "/tests/fixtures/vault_format_1";

struct Expected {
  std::string vault, disk, point, sha256;
};

std::vector<Expected> ReadExpected() {
  std::istringstream in(ReadFile(kFixture + "/expected.txt"));
  std::vector<Expected> rows;
  Expected e;
  while (in >> e.vault >> e.disk >> e.point >> e.sha256) rows.push_back(e);
  return rows;
}

class VaultFormatFixtureTest : public MountedVault, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK)) << "/dev/fuse is not usable";
    name_ = GetParam();
    CliResult untar = RunProgram({"tar", "-xzf", kFixture + "/vaults.tar.gz", "-C", dir_.path()});
    ASSERT_EQ(untar.exit_code, 0) << untar.err;
    vault_ = dir_ / name_;
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(0, ::mkdir(mnt_.c_str(), 0755));
    env_ = {"RPFS_PASSPHRASE_FILE=" + kFixture + "/passphrase"};
  }

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args, env_);
  }

  std::string name_;
  std::vector<std::string> env_;
};

TEST_P(VaultFormatFixtureTest, VerifiesAndListsAsTheOldBinaryDid) {
  CliResult verify = Run({"verify", "--deep"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find(": clean"), std::string::npos) << verify.out;

  CliResult points = Run({"point", "list"});
  ASSERT_EQ(points.exit_code, 0) << points.err;
  EXPECT_EQ(points.out, ReadFile(kFixture + "/" + name_ + ".points.txt"));
  CliResult disks = Run({"disk", "list"});
  ASSERT_EQ(disks.exit_code, 0) << disks.err;
  EXPECT_EQ(disks.out, ReadFile(kFixture + "/" + name_ + ".disks.txt"));
}

TEST_P(VaultFormatFixtureTest, ExportsEveryPointAsTheOldBinaryDid) {
  int checked = 0;
  for (const Expected& e : ReadExpected()) {
    if (e.vault != name_) continue;
    std::string out = dir_ / "out.raw";
    CliResult r = Run({"export", e.disk, out, "--point", e.point, "--format", "raw"});
    ASSERT_EQ(r.exit_code, 0) << e.disk << " " << e.point << ": " << r.err;
    EXPECT_EQ(Sha256Hex(ReadFile(out)), e.sha256) << e.disk << " at " << e.point;
    ::unlink(out.c_str());
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

// Through the mount: the old vault's test branch reads as its point, and the
// live disk takes a write that reads back after a remount.
TEST_P(VaultFormatFixtureTest, MountsReadsTheBranchAndTakesWrites) {
  CliResult r = RunRpfs({"mount", vault_, mnt_}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  mounted_ = true;
  std::string branch = ReadFile(mnt_ + "/branches/drill/app/d0-flat.vmdk");
  std::string point1;
  for (const Expected& e : ReadExpected()) {
    if (e.vault == name_ && e.disk == "app/d0" && e.point == "1") point1 = e.sha256;
  }
  ASSERT_FALSE(point1.empty());
  EXPECT_EQ(Sha256Hex(branch), point1);

  const std::string data(8192, 'n');
  const std::string live = mnt_ + "/disks/app/d1-flat.vmdk";
  int fd = ::open(live.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << live;
  EXPECT_EQ(::pwrite(fd, data.data(), data.size(), 1 << 20), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(::fsync(fd), 0);
  ::close(fd);
  Unmount();
  r = RunRpfs({"mount", vault_, mnt_}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  mounted_ = true;
  EXPECT_EQ(ReadFile(live).substr(1 << 20, data.size()), data);
  Unmount();
  CliResult verify = Run({"verify", "--deep"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

INSTANTIATE_TEST_SUITE_P(Vaults, VaultFormatFixtureTest, ::testing::Values("plain", "sealed"));

}  // namespace
}  // namespace rpfs::testing
