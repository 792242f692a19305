// branches/ in a real mount (DESIGN.md §2, issue 5): test failover clones,
// failover moving disks/, handles of closed timelines getting EROFS,
// cleanup, failback's new primary. State changes go through the CLI while
// mounted (forwarded to the daemon); the bytes are checked with qemu-img
// and qemu-io.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/mount_fixture.h"

namespace rpfs::testing {
namespace {

class BranchMountTest : public MountedVault {
 protected:
  std::string Branch(const std::string& name, const std::string& file = "d0-flat.vmdk") const {
    return mnt_ + "/branches/" + name + "/vm/" + file;
  }
  // qemu-io on one file; its exit code is 1 when a command (or a -P
  // pattern check) fails.
  CliResult QemuIo(const std::string& format, const std::string& path, const std::string& cmd) {
    return RunProgram({"qemu-io", "-f", format, "-c", cmd, path});
  }
  void ExpectPattern(const std::string& path, int byte, const std::string& off,
                     const std::string& len) {
    char cmd[96];
    std::snprintf(cmd, sizeof cmd, "read -P 0x%02x %s %s", byte, off.c_str(), len.c_str());
    CliResult r = QemuIo("raw", path, cmd);
    EXPECT_EQ(0, r.exit_code) << path << ": " << cmd << "\n" << r.out << r.err;
  }
  void Write(const std::string& path, int byte, const std::string& off, const std::string& len) {
    char cmd[96];
    std::snprintf(cmd, sizeof cmd, "write -P 0x%02x %s %s", byte, off.c_str(), len.c_str());
    CliResult r = QemuIo("raw", path, cmd);
    ASSERT_EQ(0, r.exit_code) << path << ": " << cmd << "\n" << r.out << r.err;
  }
  CliResult Compare(const std::string& a, const std::string& b) {
    return RunProgram({"qemu-img", "compare", "-f", "raw", "-F", "raw", a, b});
  }
  std::string Sha(const std::string& path) {
    return RunProgram({"sha256sum", path}).out.substr(0, 64);
  }
  // Permission bits, or -errno if stat fails.
  int Mode(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return -errno;
    return static_cast<int>(st.st_mode & 07777);
  }
  // Waits out the kernel's 1 s attribute/entry cache of live names.
  int ModeAfterCache(const std::string& path) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    return Mode(path);
  }
  std::string Ls(const std::string& dir) {
    CliResult r = RunProgram({"ls", dir});
    EXPECT_EQ(0, r.exit_code) << dir << ": " << r.err;
    return r.out;
  }
  // errno of open(path, flags), 0 if it opened.
  int OpenErrno(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
  }
};

// A test failover at an older point: a writable clone equal to the point,
// whose writes touch neither the live disk nor the point, with its own
// descriptor; the live disk keeps replicating.
TEST_F(BranchMountTest, TestFailoverIsAWritableCloneOfThePoint) {
  EXPECT_EQ("", Ls(mnt_ + "/branches"));  // branch 1 is disks/, never listed
  Write(Flat(), 0x11, "0", "4M");
  std::string id = TakePoint("g");
  Write(Flat(), 0x22, "4M", "1M");  // after the point: not in the clone
  std::string pflat = Flat("points/" + id);
  CliResult r = Rpfs({"failover", "g", "--point", id, "--test", "--name", "t1"});
  EXPECT_NE(std::string::npos, r.out.find("branches/t1/vm/d0.vmdk")) << r.out;

  EXPECT_EQ("t1\n", Ls(mnt_ + "/branches"));
  EXPECT_EQ("vm\n", Ls(mnt_ + "/branches/t1"));
  EXPECT_EQ("d0-flat.vmdk\nd0.vmdk\n", Ls(mnt_ + "/branches/t1/vm"));
  r = RunProgram({"qemu-img", "info", "--output=json", Branch("t1", "d0.vmdk")});
  ASSERT_EQ(0, r.exit_code) << r.err;
  auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ("vmdk", info["format"]);
  EXPECT_EQ(64ull << 20, info["virtual-size"].get<uint64_t>());
  r = Compare(Branch("t1"), pflat);
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  EXPECT_NE(std::string::npos, r.out.find("Images are identical")) << r.out;
  EXPECT_EQ(0644, Mode(Branch("t1")));
  EXPECT_EQ(0644, Mode(Branch("t1", "d0.vmdk")));
  EXPECT_EQ(0444, Mode(pflat));

  // Writes to the clone change only the clone.
  const std::string live_sha = Sha(Flat()), point_sha = Sha(pflat);
  Write(Branch("t1"), 0x5a, "0", "1M");
  ExpectPattern(Branch("t1"), 0x5a, "0", "1M");
  ExpectPattern(Branch("t1"), 0x11, "1M", "3M");
  ExpectPattern(Branch("t1"), 0x00, "4M", "1M");
  EXPECT_EQ(live_sha, Sha(Flat()));
  EXPECT_EQ(point_sha, Sha(pflat));
  r = Compare(Branch("t1"), pflat);
  EXPECT_EQ(1, r.exit_code) << r.out << r.err;

  // Replication into the live disk goes on; the clone does not see it.
  Write(Flat(), 0x33, "1M", "1M");
  ExpectPattern(Flat(), 0x33, "1M", "1M");
  ExpectPattern(Branch("t1"), 0x11, "1M", "1M");

  // QEMU booting from the branch's descriptor rewrites its CID: that edit
  // stays with the branch; disks/ keeps its own text.
  const std::string live_desc = ReadFile(mnt_ + "/disks/vm/d0.vmdk");
  EXPECT_EQ(live_desc, ReadFile(Branch("t1", "d0.vmdk")));  // one generator
  r = QemuIo("vmdk", Branch("t1", "d0.vmdk"), "write -P 0x77 2M 64k");
  ASSERT_EQ(0, r.exit_code) << r.out << r.err;
  EXPECT_NE(live_desc, ReadFile(Branch("t1", "d0.vmdk")));
  EXPECT_EQ(live_desc, ReadFile(mnt_ + "/disks/vm/d0.vmdk"));
  ExpectPattern(Branch("t1"), 0x77, "2M", "64k");
  ExpectPattern(Flat(), 0x11, "2M", "64k");
  r = RunProgram({"qemu-img", "info", Branch("t1", "d0.vmdk")});
  EXPECT_EQ(0, r.exit_code) << r.err;
}

// Cleanup: the branch leaves the listing and the lookup, open handles get
// an error (not the daemon's crash), and a new branch of the same name is
// a fresh clone.
TEST_F(BranchMountTest, CleanupMakesTheBranchDisappear) {
  Write(Flat(), 0x11, "0", "2M");
  std::string id = TakePoint("g");
  Rpfs({"failover", "g", "--point", id, "--test", "--name", "t1"});
  Write(Branch("t1"), 0x5a, "0", "1M");
  // O_DIRECT: every read reaches the daemon, none is served from the
  // page cache.
  int fd = ::open(Branch("t1").c_str(), O_RDWR | O_DIRECT);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  alignas(4096) static char buf[4096];
  ASSERT_EQ(4096, ::pread(fd, buf, sizeof buf, 0));
  EXPECT_EQ(0x5a, buf[0]);

  CliResult r = Rpfs({"failover", "cleanup", "t1"});
  EXPECT_NE(std::string::npos, r.out.find("t1")) << r.out;
  EXPECT_EQ("", Ls(mnt_ + "/branches"));
  EXPECT_EQ(-ENOENT, ModeAfterCache(mnt_ + "/branches/t1"));
  EXPECT_EQ(-ENOENT, Mode(Branch("t1")));
  errno = 0;
  EXPECT_EQ(-1, ::pread(fd, buf, sizeof buf, 0));
  EXPECT_EQ(ESTALE, errno);
  errno = 0;
  EXPECT_EQ(-1, ::pwrite(fd, buf, sizeof buf, 0));
  EXPECT_EQ(ESTALE, errno);
  ::close(fd);
  // The daemon is still serving, and the vault is sound.
  ExpectPattern(Flat(), 0x11, "0", "2M");
  r = Rpfs({"verify"});
  EXPECT_NE(std::string::npos, r.out.find("clean")) << r.out;

  // Same name again: the point's bytes, not the cleaned-up branch's.
  Rpfs({"failover", "g", "--point", id, "--test", "--name", "t1"});
  EXPECT_EQ("t1\n", Ls(mnt_ + "/branches"));
  ExpectPattern(Branch("t1"), 0x11, "0", "2M");
  r = Compare(Branch("t1"), Flat("points/" + id));
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

// pwrite on an fd; errno if it failed, 0 if it wrote everything.
int PwriteErrno(int fd, char byte, off_t off) {
  char buf[4096];
  std::memset(buf, byte, sizeof buf);
  errno = 0;
  ssize_t n = ::pwrite(fd, buf, sizeof buf, off);
  return n == static_cast<ssize_t>(sizeof buf) ? 0 : (errno ? errno : EIO);
}

// Failover moves disks/ to the failover branch; a handle opened before it
// holds the closed old timeline: its writes get EROFS, fsync and reads
// still work. Failback closes the failover branch the same way and shows
// the new primary under branches/.
TEST_F(BranchMountTest, FailoverMovesDisksAndClosesOldHandles) {
  Write(Flat(), 0x11, "0", "4M");
  std::string id = TakePoint("g", /*app=*/true);
  Write(Flat(), 0x22, "4M", "1M");  // newer than the point: left behind
  std::string onprem = dir_ / "onprem.raw";  // the source's copy as it stops
  ASSERT_EQ(0, RunProgram({"cp", Flat(), onprem}).exit_code);

  int old_fd = ::open(Flat().c_str(), O_RDWR);
  ASSERT_GE(old_fd, 0) << std::strerror(errno);
  ASSERT_EQ(0, PwriteErrno(old_fd, 0x22, 5 << 20));  // writable before failover
  ASSERT_EQ(0, ::fsync(old_fd));
  ASSERT_EQ(0, RunProgram({"cp", Flat(), onprem}).exit_code);

  CliResult r = Rpfs({"failover", "g", "--point", id, "--name", "fo"});
  EXPECT_NE(std::string::npos, r.out.find("failed-over")) << r.out;
  EXPECT_EQ(EROFS, PwriteErrno(old_fd, 0x66, 0));
  EXPECT_EQ(EROFS, PwriteErrno(old_fd, 0x66, 5 << 20));
  EXPECT_EQ(0, ::fsync(old_fd)) << std::strerror(errno);

  // New opens of disks/ see (and write) the failover branch.
  EXPECT_EQ("fo\n", Ls(mnt_ + "/branches"));
  std::string pflat = Flat("points/" + id);
  r = Compare(Flat(), pflat);
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  r = Compare(Branch("fo"), pflat);
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  EXPECT_EQ(0644, Mode(Flat()));
  EXPECT_EQ(0644, Mode(Branch("fo")));
  const std::string point_sha = Sha(pflat);
  Write(Flat(), 0x44, "0", "1M");
  ExpectPattern(Branch("fo"), 0x44, "0", "1M");  // one branch, two names
  Write(Branch("fo"), 0x45, "1M", "1M");
  ExpectPattern(Flat(), 0x45, "1M", "1M");
  EXPECT_EQ(point_sha, Sha(pflat));
  // Handles share the inode's page cache: the old handle reads what disks/
  // shows now, so it cannot fill the cache with the closed timeline's
  // bytes (0x22 at 4M) for a handle opened after the failover to read.
  int new_fd = ::open(Flat().c_str(), O_RDONLY);  // drops the cached pages
  ASSERT_GE(new_fd, 0) << std::strerror(errno);
  char buf[4096];
  ASSERT_EQ(4096, ::pread(old_fd, buf, sizeof buf, 4 << 20));
  EXPECT_EQ(0, buf[0]);
  ASSERT_EQ(4096, ::pread(new_fd, buf, sizeof buf, 4 << 20));
  EXPECT_EQ(0, buf[0]);
  ASSERT_EQ(4096, ::pread(old_fd, buf, sizeof buf, 0));
  EXPECT_EQ(0x44, buf[0]);
  ::close(new_fd);
  ExpectPattern(Flat(), 0x00, "4M", "2M");

  // Reprotect keeps the failover branch the writable one.
  Rpfs({"reprotect", "g"});
  Write(Flat(), 0x46, "2M", "64k");
  ExpectPattern(Branch("fo"), 0x46, "2M", "64k");
  int fo_fd = ::open(Branch("fo").c_str(), O_RDWR);
  ASSERT_GE(fo_fd, 0) << std::strerror(errno);
  int disks_fd = ::open(Flat().c_str(), O_RDWR);
  ASSERT_GE(disks_fd, 0) << std::strerror(errno);
  const std::string fo_sha = Sha(Branch("fo"));

  // Failback: the on-prem copy becomes the branch; the failover branch
  // closes and a new primary takes the writes.
  Rpfs({"failback", "g", "--target", "vm/d0=" + onprem});
  r = Compare(onprem, Branch("fo"));
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  // branches/ lists fo and the new primary, never branch 1.
  const std::string listing = Ls(mnt_ + "/branches");
  const size_t at = listing.find("g-primary-");
  ASSERT_NE(std::string::npos, at) << listing;
  const std::string primary = listing.substr(at, listing.find('\n', at) - at);
  EXPECT_EQ("fo\n" + primary + "\n", listing);
  EXPECT_EQ(0444, ModeAfterCache(Branch("fo")));
  EXPECT_EQ(0444, Mode(Branch("fo", "d0.vmdk")));
  EXPECT_EQ(0644, Mode(Branch(primary)));
  EXPECT_EQ(EROFS, OpenErrno(Branch("fo"), O_WRONLY));
  EXPECT_EQ(EROFS, OpenErrno(Branch("fo", "d0.vmdk"), O_RDWR));
  EXPECT_EQ(0, OpenErrno(Branch("fo"), O_RDONLY));
  EXPECT_EQ(EROFS, PwriteErrno(fo_fd, 0x67, 0));
  EXPECT_EQ(EROFS, PwriteErrno(disks_fd, 0x67, 0));
  EXPECT_EQ(0, ::fsync(fo_fd));
  r = QemuIo("raw", Branch("fo"), "write -P 0x68 0 64k");
  EXPECT_NE(0, r.exit_code) << r.out;
  r = RunProgram({"qemu-img", "info", Branch("fo", "d0.vmdk")});  // closed, still readable
  EXPECT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ(fo_sha, Sha(Branch("fo")));
  r = Compare(Flat(), Branch(primary));
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  r = Compare(Flat(), Branch("fo"));
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  Write(Flat(), 0x69, "0", "64k");
  ExpectPattern(Branch(primary), 0x69, "0", "64k");
  EXPECT_EQ(fo_sha, Sha(Branch("fo")));
  ::close(fo_fd);
  ::close(disks_fd);
  ::close(old_fd);
}

}  // namespace
}  // namespace rpfs::testing
