// Issue 6 acceptance 3: a vault on a small tmpfs. Writes through the mount
// get ENOSPC (never EIO) when it fills; the vault verifies clean while
// full; once space comes back (the tmpfs grows) the same mount takes
// writes again, and everything fsynced reads back.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK))
        << "/dev/fuse is not usable: FUSE tests cannot run here (they must not be skipped)";
    fs_ = dir_ / "fs";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(0, ::mkdir(fs_.c_str(), 0755));
    ASSERT_EQ(0, ::mkdir(mnt_.c_str(), 0755));
    ASSERT_EQ(0, ::mount("tmpfs", fs_.c_str(), "tmpfs", 0, "size=40m"))
        << "mount tmpfs: " << std::strerror(errno);
    tmpfs_mounted_ = true;
    vault_ = fs_ + "/vault";
  }
  void TearDown() override {
    if (rpfs_mounted_) RunRpfs({"umount", mnt_});
    for (int i = 0; i < 100 && tmpfs_mounted_; ++i) {
      if (::umount(fs_.c_str()) == 0) break;
      ::usleep(50000);  // the daemon may still hold the vault
    }
  }
  CliResult Rpfs(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args);
  }

  TempDir dir_;
  std::string fs_, mnt_, vault_;
  bool tmpfs_mounted_ = false, rpfs_mounted_ = false;
};

TEST_F(FullDiskTest, EnospcWhenFullVerifiesCleanAndResumesWhenSpaceComesBack) {
  ASSERT_EQ(0, RunRpfs({"init", vault_, "--segment-size", "4M", "--compression", "0"}).exit_code);
  ASSERT_EQ(0, Rpfs({"group", "create", "g"}).exit_code);
  ASSERT_EQ(0, Rpfs({"disk", "create", "vm/d", "--size", "128M", "--group", "g"}).exit_code);
  CliResult m = RunRpfs({"mount", vault_, mnt_});
  ASSERT_EQ(0, m.exit_code) << m.err;
  rpfs_mounted_ = true;
  const std::string flat = mnt_ + "/disks/vm/d-flat.vmdk";
  int fd = ::open(flat.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);

  // Incompressible data, 1 MiB at a time, fsync every 4 MiB, until the
  // tmpfs (40 MiB) is full.
  std::mt19937_64 rng(9);
  auto chunk = [&](uint64_t i) {
    std::string buf(1 << 20, '\0');
    std::mt19937_64 g(i * 7919 + 1);
    for (size_t k = 0; k < buf.size(); k += 8) {
      uint64_t x = g();
      std::memcpy(buf.data() + k, &x, 8);
    }
    return buf;
  };
  uint64_t synced = 0;  // chunks fsynced
  int err = 0;
  for (uint64_t i = 0; i < 128 && err == 0; ++i) {
    std::string buf = chunk(i);
    if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(i << 20)) != static_cast<ssize_t>(buf.size())) {
      err = errno;
    } else if (i % 4 == 3) {
      if (::fsync(fd) != 0) err = errno;
      else synced = i + 1;
    }
  }
  ASSERT_NE(err, 0) << "128 MiB went into a 40 MiB tmpfs";
  EXPECT_EQ(err, ENOSPC) << "a full disk must read as ENOSPC, got " << std::strerror(err);
  ASSERT_GT(synced, 8u);

  // Full, and still clean.
  CliResult v = Rpfs({"verify"});
  std::printf("full after %llu MiB fsynced; verify: %s%s", static_cast<unsigned long long>(synced),
              v.out.c_str(), v.err.c_str());
  EXPECT_EQ(0, v.exit_code) << v.out << v.err;
  EXPECT_NE(v.out.find("clean"), std::string::npos) << v.out << v.err;

  // Space comes back: the same mount takes writes again.
  ASSERT_EQ(0, ::mount("tmpfs", fs_.c_str(), "tmpfs", MS_REMOUNT, "size=256m"))
      << "grow tmpfs: " << std::strerror(errno);
  uint64_t resumed = 0;
  for (uint64_t i = synced; i < synced + 16; ++i) {
    std::string buf = chunk(i);
    ASSERT_EQ(static_cast<ssize_t>(buf.size()), ::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(i << 20)))
        << "write at " << i << " MiB after space came back: " << std::strerror(errno);
    ++resumed;
  }
  ASSERT_EQ(0, ::fsync(fd)) << std::strerror(errno);
  // Everything fsynced, before and after, reads back.
  std::string got(1 << 20, '\0');
  for (uint64_t i = 0; i < synced + resumed; ++i) {
    ASSERT_EQ(static_cast<ssize_t>(got.size()), ::pread(fd, got.data(), got.size(), static_cast<off_t>(i << 20)));
    ASSERT_TRUE(got == chunk(i)) << "MiB " << i << " reads back wrong";
  }
  ::close(fd);
  v = Rpfs({"verify", "--deep"});
  EXPECT_EQ(0, v.exit_code) << v.out << v.err;
  EXPECT_NE(v.out.find("clean"), std::string::npos) << v.out << v.err;
  EXPECT_EQ(v.err.find("warning"), std::string::npos) << v.err;
}

// The other way space comes back: history nobody needs any more. The disk
// fills with overwrites of one 8 MiB region, with a point every 4 MiB; once
// the window shrinks, a compaction pass on the full disk deletes the dead
// segments before the last indexed position (nothing to copy), and the
// same mount takes writes again.
TEST_F(FullDiskTest, ExpiringHistoryOnAFullDiskFreesSpaceForWrites) {
  ASSERT_EQ(0, RunRpfs({"init", vault_, "--segment-size", "4M", "--compression", "0"}).exit_code);
  ASSERT_EQ(0, Rpfs({"group", "create", "g"}).exit_code);
  ASSERT_EQ(0, Rpfs({"disk", "create", "vm/d", "--size", "128M", "--group", "g"}).exit_code);
  CliResult m = RunRpfs({"mount", vault_, mnt_, "--compact-every", "0"});
  ASSERT_EQ(0, m.exit_code) << m.err;
  rpfs_mounted_ = true;
  int fd = ::open((mnt_ + "/disks/vm/d-flat.vmdk").c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  auto chunk = [](uint64_t i) {
    std::string buf(1 << 20, '\0');
    std::mt19937_64 g(i * 104729 + 3);
    for (size_t k = 0; k < buf.size(); k += 8) {
      uint64_t x = g();
      std::memcpy(buf.data() + k, &x, 8);
    }
    return buf;
  };
  int err = 0;
  uint64_t i = 0;
  for (; i < 200 && err == 0; ++i) {
    std::string buf = chunk(i);
    if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>((i % 8) << 20)) !=
        static_cast<ssize_t>(buf.size())) {
      err = errno;
    } else if (i % 4 == 3 && ::fsync(fd) != 0) {
      err = errno;
    } else if (i % 4 == 3) {
      // As the daemon's schedule would: a point (which also indexes
      // everything so far; a pass reclaims only indexed history).
      CliResult p = Rpfs({"point", "create", "g"});
      if (p.exit_code != 0) break;  // full before the marker went in
    }
  }
  ASSERT_TRUE(err == ENOSPC || err == 0) << std::strerror(err);
  if (err == 0) {  // the point creation hit the full disk first
    std::string buf = chunk(i);
    EXPECT_EQ(-1, ::pwrite(fd, buf.data(), buf.size(), 0));
    EXPECT_EQ(ENOSPC, errno) << std::strerror(errno);
  }

  CliResult r = Rpfs({"group", "set", "g", "--retention", "1s"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  ::sleep(2);
  r = Rpfs({"prune"});
  ASSERT_EQ(0, r.exit_code) << r.out << r.err;
  std::printf("prune on the full disk: %s", r.out.c_str());
  EXPECT_NE(r.out.find("disk full"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("reclaimed 0 B"), std::string::npos) << r.out;

  // The same mount, the same descriptor: writes go in again.
  for (uint64_t k = 0; k < 8; ++k) {
    std::string buf = chunk(1000 + k);
    ASSERT_EQ(static_cast<ssize_t>(buf.size()),
              ::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(k << 20)))
        << "MiB " << k << " after prune: " << std::strerror(errno);
  }
  ASSERT_EQ(0, ::fsync(fd)) << std::strerror(errno);
  std::string got(1 << 20, '\0');
  for (uint64_t k = 0; k < 8; ++k) {
    ASSERT_EQ(static_cast<ssize_t>(got.size()), ::pread(fd, got.data(), got.size(), static_cast<off_t>(k << 20)));
    ASSERT_TRUE(got == chunk(1000 + k)) << "MiB " << k << " reads back wrong";
  }
  ::close(fd);
  CliResult v = Rpfs({"verify", "--deep"});
  EXPECT_EQ(0, v.exit_code) << v.out << v.err;
  EXPECT_NE(v.out.find("clean"), std::string::npos) << v.out << v.err;
}

}  // namespace
}  // namespace rpfs::testing
