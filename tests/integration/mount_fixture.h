// A vault mounted through real FUSE for the length of a test: created
// with the CLI, mounted with `rpfs mount`, unmounted with `rpfs umount`.
// No /dev/fuse means a loud failure, never a skip.
#pragma once

#include <sys/file.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/test_support.h"

namespace rpfs::testing {

class MountedVault : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(InitVault());
    Expect({"--vault", vault_, "group", "create", "g"});
    Expect({"--vault", vault_, "disk", "create", "vm/d0", "--size", "64M", "--group", "g"});
    Mount();
  }

  // A new vault and an empty mount point; fails loudly without FUSE.
  void InitVault() {
    ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK))
        << "/dev/fuse is not usable: FUSE tests cannot run here (they must not be skipped)";
    vault_ = dir_ / "vault";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(0, ::mkdir(mnt_.c_str(), 0755));
    Expect({"init", vault_});
  }

  void TearDown() override {
    if (mounted_) Unmount();
  }

  void Mount() {
    auto r = RunRpfs({"mount", vault_, mnt_});
    ASSERT_EQ(0, r.exit_code) << r.err;
    struct stat st;
    ASSERT_EQ(0, ::stat((mnt_ + "/disks").c_str(), &st)) << "mount did not come up";
    mounted_ = true;
  }

  // Unmounts and waits until the daemon has released the vault.
  void Unmount() {
    auto r = RunRpfs({"umount", mnt_});
    EXPECT_EQ(0, r.exit_code) << r.err;
    mounted_ = false;
    for (int i = 0; i < 200; ++i) {
      int fd = ::open((vault_ + "/LOCK").c_str(), O_RDONLY);
      bool free = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      if (fd >= 0) ::close(fd);
      if (free) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "the mount daemon did not exit after umount";
  }

  // Runs rpfs (forwarded to the daemon while mounted); expects success.
  CliResult Expect(const std::vector<std::string>& args) {
    CliResult r = RunRpfs(args);
    if (r.exit_code != 0) {
      std::string cmd = "rpfs";
      for (auto& a : args) cmd += " " + a;
      ADD_FAILURE() << cmd << " exited " << r.exit_code << "\n" << r.out << r.err;
    }
    return r;
  }
  CliResult Rpfs(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return Expect(args);
  }
  // Takes a point and returns its id (parsed from "point N (...)").
  std::string TakePoint(const std::string& group, bool app = false) {
    std::vector<std::string> args = {"point", "create", group};
    if (app) args.push_back("--app");
    CliResult r = Rpfs(args);
    std::string id = r.out.substr(6, r.out.find(' ', 6) - 6);
    return id;
  }
  std::string Flat(const std::string& view = "disks") const {
    return mnt_ + "/" + view + "/vm/d0-flat.vmdk";
  }

  TempDir dir_;
  std::string vault_, mnt_;
  bool mounted_ = false;
};

}  // namespace rpfs::testing
