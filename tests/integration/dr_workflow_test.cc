// The DR story of issue 5 end to end, with real files, a real mount and
// tools nobody here wrote: import two qemu-img VMDKs (their copies are the
// on-premises datastore), replicate writes, take points, fail over to
// latest-app, run on the failover branch, reprotect, fail back so that
// the on-premises files become exactly the branch (qemu-img compare),
// writing only the changed blocks. Also: a test failover under fio load,
// a failback killed half way and rerun, --verify repairing an on-prem
// file changed behind rpfs's back, and every refused transition.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/mount_fixture.h"
#include "tests/tools/vmdk_test_images.h"

namespace rpfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// Numbers a failback printed: "N changed blocks; wrote D data bytes + M metadata bytes".
struct FailbackReport {
  uint64_t changed_blocks = 0, data = 0, metadata = 0, repaired = 0;
  bool continued = false;
};
// (Parsed by hand: std::regex trips GCC 12's -Wmaybe-uninitialized under ASan.)
uint64_t NumberBefore(const std::string& out, const std::string& words) {
  size_t at = out.find(words);
  if (at == std::string::npos) return 0;
  size_t start = out.find_last_not_of("0123456789", at - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return at > start ? std::stoull(out.substr(start, at - start)) : 0;
}
FailbackReport ParseFailback(const std::string& out) {
  FailbackReport r;
  EXPECT_NE(std::string::npos, out.find(" changed blocks; wrote ")) << out;
  r.changed_blocks = NumberBefore(out, " changed blocks; wrote ");
  r.data = NumberBefore(out, " data bytes + ");
  r.metadata = NumberBefore(out, " metadata bytes");
  const size_t rep = out.find("repaired ");
  if (rep != std::string::npos) r.repaired = std::stoull(out.substr(rep + 9));
  r.continued = out.find("continued failback job") != std::string::npos;
  return r;
}

class DrWorkflowTest : public MountedVault {
 protected:
  // The fixture's vault, without its disk: each test brings its own.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(InitVault());
    onprem_ = dir_ / "onprem";
    ASSERT_EQ(0, ::mkdir(onprem_.c_str(), 0755));
    Rpfs({"group", "create", "web"});
  }
  CliResult Fails(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args);
  }
  // The same qemu-io write on the replica (through the mount) and on the
  // on-premises file: what replication does.
  void WriteBoth(const std::string& disk, const std::string& onprem, const std::string& fmt,
                 const std::string& cmd) {
    ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", cmd, mnt_ + "/disks/vm/" + disk + "-flat.vmdk"}));
    ASSERT_TRUE(Ran({"qemu-io", "-f", fmt, "-c", cmd, onprem}));
  }
  void WriteMount(const std::string& disk, const std::string& cmd) {
    ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", cmd, mnt_ + "/disks/vm/" + disk + "-flat.vmdk"}));
  }
  // qemu-img compare of an on-prem file with `rpfs export` of the disk at latest.
  void ExpectIdenticalToExport(const std::string& disk, const std::string& onprem,
                               const std::string& fmt) {
    const std::string out = dir_ / (disk + ".export.raw");
    ::unlink(out.c_str());
    Rpfs({"export", "vm/" + disk, "--point", "latest", "--format", "raw", out});
    CliResult r = RunProgram({"qemu-img", "compare", "-f", fmt, "-F", "raw", onprem, out});
    EXPECT_EQ(0, r.exit_code) << onprem << " vs export of vm/" << disk << ": " << r.out << r.err;
    EXPECT_NE(std::string::npos, r.out.find("Images are identical")) << r.out;
  }
  std::string GroupState() {
    CliResult r = Rpfs({"group", "list", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_array() || j.empty()) return "?";
    return j[0].value("state", "?") + "@" + std::to_string(j[0].value("active_branch", 0));
  }
  std::string onprem_;
};

TEST_F(DrWorkflowTest, FailoverReprotectFailbackMakesOnPremIdentical) {
  // The on-premises datastore: a monolithicSparse and a monolithicFlat VMDK.
  const std::string src0 = dir_ / "src0.vmdk", src1 = dir_ / "src1.vmdk";
  ASSERT_TRUE(MakeVmdk(src0, "monolithicSparse", 64 * kMiB,
                       {"write -P 0x11 0 8M", "write -P 0x22 16M 4M", "write -z 24M 1M",
                        "write -P 0x33 40M 64k"}));
  ASSERT_TRUE(MakeVmdk(src1, "monolithicFlat", 32 * kMiB,
                       {"write -P 0x44 0 4M", "write -P 0x55 20M 1M"}));
  const std::string on0 = onprem_ + "/d0.vmdk", on1 = onprem_ + "/d1.vmdk";
  ASSERT_TRUE(Ran({"cp", src0, on0}));
  ASSERT_TRUE(Ran({"cp", src1, dir_ / "src1-flat.vmdk", onprem_}));
  ASSERT_TRUE(Ran({"mv", onprem_ + "/src1.vmdk", on1}));
  // The copied descriptor still names src1-flat.vmdk, next to it: fine.
  Rpfs({"disk", "import", "vm/d0", src0, "--group", "web"});
  Rpfs({"disk", "import", "vm/d1", src1, "--group", "web"});
  Mount();

  // Replication, points, more replication.
  WriteBoth("d0", on0, "vmdk", "write -P 0x66 1M 2M");
  WriteBoth("d1", on1, "vmdk", "write -P 0x77 4M 1M");
  TakePoint("web");
  TakePoint("web", /*app=*/true);
  WriteBoth("d0", on0, "vmdk", "write -P 0x88 2M 1M");  // newer than latest-app
  WriteBoth("d1", on1, "vmdk", "write -P 0x89 8M 512k");

  // The site fails: fail over to latest-app; the VM runs on the branch.
  CliResult fo = Rpfs({"failover", "web", "--point", "latest-app", "--name", "fo"});
  EXPECT_NE(std::string::npos, fo.out.find("branch fo")) << fo.out;
  WriteMount("d0", "write -P 0x99 30M 2M");
  WriteMount("d1", "write -P 0xaa 10M 1M");
  ASSERT_TRUE(Ran({"sync"}));

  CliResult rp = Rpfs({"reprotect", "web"});
  EXPECT_NE(std::string::npos, rp.out.find("reprotected")) << rp.out;
  // Changed: d0 1M (0x88, undone) + 2M (0x99); d1 512k (0x89) + 1M (0xaa).
  const uint64_t changed = (3 * kMiB + 1536 * 1024);
  // stat tells the operator what failback will send before it runs.
  auto st = nlohmann::json::parse(Rpfs({"stat", "--json"}).out, nullptr, false);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(changed, st["groups"][0].value("failback_pending_bytes", 0ull)) << st.dump();
  EXPECT_GT(st["groups"][0].value("failback_journal_bytes", 0ull), 0ull) << st.dump();
  CliResult fb = Rpfs({"failback", "web", "--target", "vm/d0=" + on0, "--target", "vm/d1=" + on1});
  FailbackReport r = ParseFailback(fb.out);
  EXPECT_EQ(changed / 4096, r.changed_blocks) << fb.out;
  EXPECT_LE(r.data, changed * 11 / 10) << fb.out;
  EXPECT_GE(r.data, changed) << fb.out;
  EXPECT_LE(r.metadata, 64 * 1024u) << fb.out;  // grain table entries, both copies

  ExpectIdenticalToExport("d0", on0, "vmdk");
  ExpectIdenticalToExport("d1", on1, "vmdk");
  CliResult check = RunProgram({"qemu-img", "check", "-f", "vmdk", on0});
  EXPECT_EQ(0, check.exit_code) << check.out << check.err;
  EXPECT_EQ("protected", GroupState().substr(0, 9));

  // Protected again: the next writes from the source are journaled as usual.
  WriteMount("d0", "write -P 0xbb 0 64k");
  ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", "read -P 0xbb 0 64k",
                   mnt_ + "/disks/vm/d0-flat.vmdk"}));
  CliResult jobs = Rpfs({"jobs", "--json"});
  auto j = nlohmann::json::parse(jobs.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << jobs.out;
  std::vector<std::string> kinds;
  for (auto& row : j) {
    if (row.value("kind", "") == "import" || row.value("kind", "") == "export") continue;
    kinds.push_back(row.value("kind", "") + ":" + row.value("state", ""));
  }
  EXPECT_EQ((std::vector<std::string>{"failover:succeeded", "reprotect:succeeded",
                                      "failback:succeeded"}),
            kinds);
  Unmount();
  Expect({"--vault", vault_, "verify"});
}

TEST_F(DrWorkflowTest, TestFailoverUnderLoadThenCleanup) {
  Rpfs({"disk", "create", "vm/d0", "--size", "64M", "--group", "web"});
  Mount();
  WriteMount("d0", "write -P 0x42 0 8M");
  const std::string id = TakePoint("web");
  // fio writes and verifies the live disk's second half while a test
  // failover clones the point and the clone is written.
  const std::string fio_out = dir_ / "fio.out";
  pid_t fio = SpawnProgram({"fio", "--name=w", "--filename=" + Flat(), "--rw=randwrite",
                            "--bs=4k", "--offset=32M", "--size=16M", "--verify=crc32c",
                            "--do_verify=1", "--direct=1", "--ioengine=psync"},
                           fio_out, fio_out + ".err");
  ASSERT_GT(fio, 0);
  Rpfs({"failover", "web", "--point", id, "--test", "--name", "drill"});
  const std::string clone = mnt_ + "/branches/drill/vm/d0-flat.vmdk";
  CliResult cmp = RunProgram({"qemu-img", "compare", "-f", "raw", "-F", "raw", clone,
                              Flat("points/" + id)});
  EXPECT_EQ(0, cmp.exit_code) << cmp.out << cmp.err;
  ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 1M", clone}));
  int status = 0;
  ASSERT_EQ(fio, ::waitpid(fio, &status, 0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(fio_out + ".err");
  // Each is what it should be: the clone has its write and the point's
  // bytes; the live disk kept the pattern and fio's verified data.
  ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", "read -P 0x5a 1M 1M", "-c",
                   "read -P 0x42 2M 6M", "-c", "read -P 0 32M 16M", clone}));
  ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", "read -P 0x42 0 8M", Flat()}));
  CliResult v = RunProgram({"fio", "--name=v", "--filename=" + Flat(), "--rw=read", "--bs=4k",
                            "--offset=32M", "--size=16M", "--verify=crc32c", "--verify_only",
                            "--readonly"});
  EXPECT_EQ(0, v.exit_code) << v.out << v.err;
  Rpfs({"failover", "cleanup", "drill"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the kernel's entry cache
  struct stat st;
  EXPECT_NE(0, ::stat((mnt_ + "/branches/drill").c_str(), &st));
  EXPECT_EQ("protected@1", GroupState());
  Unmount();
  Expect({"--vault", vault_, "verify"});
}

// The failback-only cases: a raw 64 MiB disk whose on-prem copy is `on_`,
// failed over at its import, rewritten on the branch in [0, branch_mib)
// MiB, reprotected; left unmounted.
class FailbackJobTest : public DrWorkflowTest {
 protected:
  void Prepare(int branch_mib) {
    on_ = onprem_ + "/d0.raw";
    ASSERT_TRUE(Ran({"dd", "if=/dev/urandom", "of=" + on_, "bs=1M", "count=64", "status=none"}));
    Rpfs({"disk", "import", "vm/d0", on_, "--group", "web"});
    Rpfs({"failover", "web", "--point", "latest"});
    Mount();
    ASSERT_TRUE(Ran({"dd", "if=/dev/urandom", "of=" + Flat(), "bs=1M",
                     "count=" + std::to_string(branch_mib), "conv=notrunc,fsync", "status=none"}));
    Unmount();
    Rpfs({"reprotect", "web"});
  }
  std::string on_;
};

TEST_F(FailbackJobTest, KilledHalfWayResumesAndWritesLess) {
  Prepare(24);
  const std::string out = dir_ / "fb.out";
  // 24 MiB at 8 MiB/s: about 3 s; kill it after 1.5 s.
  pid_t pid = SpawnProgram({RPFS_BINARY, "--vault", vault_, "failback", "web", "--target",
                            "vm/d0=" + on_, "--max-rate", "8M"},
                           out, out + ".err");
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(0, ::kill(pid, SIGKILL));
  ::waitpid(pid, nullptr, 0);
  CliResult jobs = Rpfs({"jobs", "--json"});
  auto j = nlohmann::json::parse(jobs.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && !j.empty()) << jobs.out;
  EXPECT_EQ("interrupted", j.back().value("state", "")) << jobs.out;
  EXPECT_GT(j.back().value("progress_done", 0ull), 0ull) << jobs.out;

  CliResult again = Rpfs({"failback", "web", "--target", "vm/d0=" + on_});
  FailbackReport r = ParseFailback(again.out);
  EXPECT_TRUE(r.continued) << again.out;
  EXPECT_EQ(24 * kMiB / 4096, r.changed_blocks);
  EXPECT_GT(r.data, 0u);
  EXPECT_LT(r.data, 24 * kMiB) << "the rerun started over";
  ExpectIdenticalToExport("d0", on_, "raw");
  Expect({"--vault", vault_, "verify"});
}

TEST_F(FailbackJobTest, VerifyRepairsBlocksChangedBehindRpfsBack) {
  Prepare(4);
  // Scribble on 40 blocks the failback plan does not cover (past 8 MiB).
  std::mt19937_64 rng(5);
  std::set<uint64_t> hit;
  int fd = ::open(on_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  while (hit.size() < 40) {
    uint64_t block = 2048 + rng() % (64 * 256 - 2048);
    if (!hit.insert(block).second) continue;
    std::string junk(4096, static_cast<char>(rng()));
    ASSERT_EQ(4096, ::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(block * 4096)));
  }
  ::close(fd);
  CliResult fb = Rpfs({"failback", "web", "--target", "vm/d0=" + on_, "--verify"});
  FailbackReport r = ParseFailback(fb.out);
  EXPECT_EQ(4 * kMiB / 4096, r.changed_blocks);
  EXPECT_EQ(40u, r.repaired) << fb.out;
  ExpectIdenticalToExport("d0", on_, "raw");
}

TEST_F(DrWorkflowTest, RefusedTransitionsChangeNothing) {
  Rpfs({"disk", "create", "vm/d0", "--size", "8M", "--group", "web"});
  const std::string on = onprem_ + "/d0.raw";
  ASSERT_TRUE(Ran({"truncate", "-s", "8M", on}));
  const std::string small = onprem_ + "/small.raw";
  ASSERT_TRUE(Ran({"truncate", "-s", "4M", small}));
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    const std::string before = GroupState();
    CliResult r = Fails(args);
    EXPECT_EQ(1, r.exit_code) << r.out << r.err;
    EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << r.err;
    EXPECT_NE(std::string::npos, r.err.find(says)) << r.err;
    EXPECT_EQ(before, GroupState());
  };
  refused({"failback", "web", "--target", "vm/d0=" + on}, "is protected");
  refused({"reprotect", "web"}, "reprotect follows a failover");
  refused({"failover", "cleanup", "nosuch"}, "unknown branch 'nosuch'");
  refused({"failover", "web", "--point", "nosuch"}, "unknown point 'nosuch'");
  refused({"failover", "nogroup", "--point", "latest"}, "unknown group 'nogroup'");
  Rpfs({"failover", "web", "--point", "latest", "--name", "fo"});
  refused({"failover", "web", "--point", "latest"}, "is failed-over");
  refused({"failback", "web", "--target", "vm/d0=" + on}, "run 'rpfs reprotect web'");
  refused({"failover", "cleanup", "fo"}, "test failover branches only");
  Rpfs({"reprotect", "web"});
  refused({"failback", "web", "--target", "vm/d0=" + small}, "holds 4194304 bytes");
  refused({"failback", "web", "--target", "vm/nosuch=" + on}, "unknown disk 'vm/nosuch'");
  refused({"failback", "web", "--target", "vm/d0=" + onprem_ + "/missing.raw"}, "missing.raw");
  EXPECT_EQ(0, Fails({"failback", "web", "--target", "vm/d0=" + on}).exit_code);
  EXPECT_EQ("protected", GroupState().substr(0, 9));
}

}  // namespace
}  // namespace rpfs::testing
