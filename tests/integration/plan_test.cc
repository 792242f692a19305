// Recovery plans (issue 9) on a real mount: a test failover of three
// groups in two steps whose scripts see the right environment and disks a
// hypervisor could boot (qemu-img info, e2fsck); a failing post script and
// resume; a manual action; kill -9 of the plan's client during a step-2
// script and resume; multi-VM consistency at one sequence; the whole
// failover-reprotect-failback cycle through one plan.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/plan_fixture.h"
#include "tests/tools/vmdk_test_images.h"

namespace rpfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

const char kTwoSteps[] = R"({"steps": [
  {"groups": ["db"], "pre": ["PRE1"], "post": ["POST1"]},
  {"groups": ["web", "app"], "pre": ["PRE2"], "post": ["POST2"]MANUAL}
]})";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string FlatOf(const std::string& descriptor) {
  return descriptor.substr(0, descriptor.size() - 5) + "-flat.vmdk";  // ".vmdk"
}

size_t Count(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), x));
}

class PlanTest : public PlanFixture {
 protected:
  std::string TwoStepPlan(const std::string& post2, const std::string& manual = "") {
    std::string j = kTwoSteps;
    j = Replace(j, "PRE1", Log("pre1"));
    j = Replace(j, "POST1", Log("post1"));
    j = Replace(j, "PRE2", Log("pre2"));
    j = Replace(j, "POST2", post2);
    return Replace(j, "MANUAL", manual.empty() ? "" : ", \"manual\": \"" + manual + "\"");
  }
  // Every group's branch from the plan's last run.
  std::map<std::string, std::string> Branches(const std::string& plan) {
    std::map<std::string, std::string> out;
    nlohmann::json groups = Show(plan)["run"]["groups"];
    for (auto it = groups.begin(); it != groups.end(); ++it) out[it.key()] = it.value().value("branch", "");
    return out;
  }
};

// Acceptance 1.
TEST_F(PlanTest, TestFailoverRunsStepsInOrderWithBootableDisksAndCleanupRemovesEverything) {
  std::map<std::string, std::string> before;
  for (const char* g : {"db", "web", "app"}) {
    const std::string flat = mnt_ + "/disks/" + g + "/d0-flat.vmdk";
    ASSERT_TRUE(Ran({"mkfs.ext4", "-q", "-F", flat}));
    ASSERT_TRUE(Ran({"debugfs", "-w", "-R", std::string("write ") + log_sh_ + " " + g + ".sh", flat}));
    before[g] = Sha256(flat);
  }
  CreatePlan("shop", TwoStepPlan(Log("post2")));
  EXPECT_EQ("protected", State("shop"));

  CliResult r = Rpfs({"plan", "failover", "shop", "--test"});
  EXPECT_NE(std::string::npos, r.out.find("test failover complete")) << r.out;
  EXPECT_EQ("test failover complete", State("shop"));
  EXPECT_EQ((std::vector<std::string>{"pre1", "post1", "pre2", "post2"}), Tags());

  const auto branches = Branches("shop");
  ASSERT_EQ(3u, branches.size());
  std::set<std::string> checked;
  for (const ScriptSeen& s : Seen()) {
    SCOPED_TRACE("script " + s.tag);
    EXPECT_EQ("test-failover", s.op);
    EXPECT_EQ("shop", s.plan);
    EXPECT_EQ(mnt_, s.mount);
    EXPECT_EQ(vault_, s.vault);
    const bool first = s.tag == "pre1" || s.tag == "post1";
    EXPECT_EQ(first ? "1" : "2", s.step);
    EXPECT_EQ(s.tag.substr(0, s.tag.size() - 1), s.phase);
    EXPECT_EQ(first ? "db" : "web app", s.groups);
    EXPECT_EQ(first ? branches.at("db") : branches.at("web") + " " + branches.at("app"), s.branch);
    std::vector<std::string> groups = first ? std::vector<std::string>{"db"}
                                            : std::vector<std::string>{"web", "app"};
    ASSERT_EQ(groups.size(), s.disks.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      const std::string& g = groups[i];
      // Before the step's failover the scripts see the disks as they are;
      // after it, the test branch's.
      const std::string want = s.phase == "pre" ? mnt_ + "/disks/" + g + "/d0.vmdk"
                                                : mnt_ + "/branches/" + branches.at(g) + "/" + g + "/d0.vmdk";
      EXPECT_EQ(g + "/d0=" + want, s.disks[i]);
      const std::string path = s.disks[i].substr(s.disks[i].find('=') + 1);
      if (!checked.insert(path).second) continue;
      CliResult info = RunProgram({"qemu-img", "info", path});
      EXPECT_EQ(0, info.exit_code) << path << ": " << info.err;
      EXPECT_NE(std::string::npos, info.out.find("file format: vmdk")) << info.out;
      EXPECT_NE(std::string::npos, info.out.find("virtual size: 32 MiB")) << info.out;
      CliResult fsck = RunProgram({"e2fsck", "-fn", FlatOf(path)});
      EXPECT_EQ(0, fsck.exit_code) << FlatOf(path) << ": " << fsck.out << fsck.err;
    }
  }
  EXPECT_EQ(6u, checked.size());  // three live disks, three branch disks
  EXPECT_EQ(3u, Ls("branches").size());
  // One job for the run, a line per step naming its groups and scripts.
  auto jobs = JobsOfKind("plan-");
  ASSERT_EQ(1u, jobs.size());
  EXPECT_EQ("succeeded", jobs[0].value("state", ""));
  ASSERT_EQ(2u, jobs[0]["lines"].size());
  EXPECT_NE(std::string::npos, jobs[0]["lines"][1].get<std::string>().find("groups web app"));
  EXPECT_NE(std::string::npos, jobs[0]["lines"][1].get<std::string>().find("exit 0"));
  EXPECT_EQ(0u, JobsOfKind("test-failover").size()) << "the plan is one job, not one per group";

  Rpfs({"plan", "cleanup", "shop"});
  EXPECT_EQ(0u, Ls("branches").size());
  EXPECT_EQ("protected", State("shop"));
  for (const char* g : {"db", "web", "app"}) {
    EXPECT_EQ(before[g], Sha256(mnt_ + "/disks/" + g + "/d0-flat.vmdk")) << g << ": the live disk changed";
  }
  EXPECT_EQ(4u, Tags().size()) << "cleanup runs no scripts";
}

// Acceptance 2.
TEST_F(PlanTest, FailedPostScriptStopsTheRunAndResumeFinishesOnlyWhatWasLeft) {
  const std::string fix = dir_ / "fixed";
  CreatePlan("shop", TwoStepPlan(Log("post2") + " && test -e " + fix +
                                 " || { echo 'post2 broke: the load balancer is down'; exit 3; }"));
  CliResult r = RunRpfs({"--vault", vault_, "plan", "failover", "shop", "--test"});
  EXPECT_EQ(1, r.exit_code) << r.out << r.err;
  EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << r.err;
  EXPECT_NE(std::string::npos, r.err.find("step 2/2 post script 1")) << r.err;
  EXPECT_NE(std::string::npos, r.err.find("exited 3")) << r.err;
  EXPECT_NE(std::string::npos, r.out.find("post2 broke")) << "script output reaches the operator";

  nlohmann::json plan = Show("shop");
  EXPECT_EQ(0u, plan.value("display_state", "").rfind("failed at step 2 (test-failover)", 0))
      << plan.value("display_state", "");
  EXPECT_EQ(3, plan["run"].value("script_exit", 0));
  EXPECT_NE(std::string::npos, plan["run"].value("script_output", "").find("post2 broke"));
  auto jobs = JobsOfKind("plan-");
  ASSERT_EQ(1u, jobs.size());
  EXPECT_EQ("failed", jobs[0].value("state", ""));
  EXPECT_NE(std::string::npos, jobs[0].value("output", "").find("post2 broke"));
  EXPECT_NE(std::string::npos, jobs[0]["lines"][1].get<std::string>().find("exited 3"));
  CliResult list = Rpfs({"plan", "list"});
  EXPECT_NE(std::string::npos, list.out.find("failed at step 2")) << list.out;

  WriteFile(fix, "");  // the operator fixes what the script checks
  Rpfs({"plan", "resume", "shop"});
  EXPECT_EQ("test failover complete", State("shop"));
  auto tags = Tags();
  EXPECT_EQ(1u, Count(tags, "pre1"));
  EXPECT_EQ(1u, Count(tags, "post1"));
  EXPECT_EQ(1u, Count(tags, "pre2"));
  EXPECT_EQ(2u, Count(tags, "post2")) << "only the failed script runs again";
  EXPECT_EQ(3u, Ls("branches").size()) << "no group is failed over twice";
  jobs = JobsOfKind("plan-");
  ASSERT_EQ(2u, jobs.size());
  EXPECT_EQ("succeeded", jobs[1].value("state", ""));
}

// Acceptance 3.
TEST_F(PlanTest, ManualActionPausesTheRunUntilResume) {
  CreatePlan("shop", TwoStepPlan(Log("post2"), "Check the load balancer"));
  CliResult r = Rpfs({"plan", "failover", "shop", "--test"});
  EXPECT_NE(std::string::npos, r.out.find("waits for a manual action: Check the load balancer")) << r.out;
  EXPECT_EQ("waiting at step 2 (test-failover): Check the load balancer", State("shop"));
  EXPECT_EQ((std::vector<std::string>{"pre1", "post1"}), Tags());
  EXPECT_EQ(1u, Ls("branches").size()) << "step 2 has not started";
  EXPECT_EQ("waiting", JobsOfKind("plan-").at(0).value("state", ""));

  Rpfs({"plan", "resume", "shop"});
  EXPECT_EQ("test failover complete", State("shop"));
  EXPECT_EQ((std::vector<std::string>{"pre1", "post1", "pre2", "post2"}), Tags());
  EXPECT_EQ(3u, Ls("branches").size());
}

// Acceptance 4: the client of a plan run (the daemon runs it) is killed
// while a step-2 script sleeps.
TEST_F(PlanTest, Kill9OfThePlanClientDuringAStep2ScriptThenResume) {
  const std::string pid_file = dir_ / "sleeper.pid", fix = dir_ / "fixed";
  const std::string sleeper = "test -e " + fix + " || { echo $$ > " + pid_file + "; sleep 60; }";
  CreatePlan("shop", TwoStepPlan(Log("post2") + " && " + sleeper));
  pid_t client = SpawnProgram({RPFS_BINARY, "--vault", vault_, "plan", "failover", "shop"},
                              dir_ / "client.out", dir_ / "client.err");
  ASSERT_GT(client, 0);
  ASSERT_TRUE(WaitForFile(pid_file)) << "the step-2 script never started: " << ReadFile(dir_ / "client.err");
  ASSERT_EQ(0, ::kill(client, SIGKILL));
  int status = 0;
  ASSERT_EQ(client, ::waitpid(client, &status, 0));
  // The daemon notices its client is gone, stops the script and records
  // the run as interrupted.
  std::string state;
  for (int i = 0; i < 100; ++i) {
    state = State("shop");
    if (state.rfind("interrupted", 0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ("interrupted at step 2 (failover)", state);
  const pid_t sleeping = std::stoi(ReadFile(pid_file));
  EXPECT_NE(0, ::kill(sleeping, 0)) << "the script of the killed run is still running";
  auto jobs = JobsOfKind("plan-");
  ASSERT_EQ(1u, jobs.size());
  EXPECT_EQ("interrupted", jobs[0].value("state", ""));

  WriteFile(fix, "");
  Rpfs({"plan", "resume", "shop"});
  EXPECT_EQ("failed over", State("shop"));
  auto tags = Tags();
  EXPECT_EQ(1u, Count(tags, "pre1"));
  EXPECT_EQ(1u, Count(tags, "post1"));
  EXPECT_EQ(1u, Count(tags, "pre2"));
  EXPECT_EQ(2u, Count(tags, "post2")) << "the script that was cut off runs again, nothing else";
  // Every group failed over exactly once: one failover branch each.
  EXPECT_EQ(3u, Ls("branches").size());
  CliResult groups = Rpfs({"group", "list", "--json"});
  auto gj = nlohmann::json::parse(groups.out, nullptr, false);
  ASSERT_TRUE(gj.is_array()) << groups.out;
  for (const auto& g : gj) EXPECT_EQ("failed-over", g.value("state", "")) << g.dump();
  jobs = JobsOfKind("plan-");
  ASSERT_EQ(2u, jobs.size());
  EXPECT_EQ("interrupted", jobs[0].value("state", ""));
  EXPECT_EQ("succeeded", jobs[1].value("state", ""));
  CliResult verify = Rpfs({"verify"});
  EXPECT_NE(std::string::npos, verify.out.find("clean")) << verify.out;
}

// plan cancel of a run the daemon is running: its script is stopped, the
// run ends where it stands, cleanup removes the branches it made.
TEST_F(PlanTest, CancelStopsALiveRunAndCleanupRemovesWhatItMade) {
  const std::string pid_file = dir_ / "sleeper.pid";
  CreatePlan("shop", TwoStepPlan(Log("post2") + " && echo $$ > " + pid_file + " && sleep 60"));
  pid_t client = SpawnProgram({RPFS_BINARY, "--vault", vault_, "plan", "failover", "shop", "--test"},
                              dir_ / "client.out", dir_ / "client.err");
  ASSERT_GT(client, 0);
  ASSERT_TRUE(WaitForFile(pid_file)) << ReadFile(dir_ / "client.err");
  EXPECT_EQ("running test-failover at step 2", State("shop"));
  CliResult c = Rpfs({"plan", "cancel", "shop"});
  EXPECT_NE(std::string::npos, c.out.find("test failover cancelled")) << c.out;
  int status = 0;
  ASSERT_EQ(client, ::waitpid(client, &status, 0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(dir_ / "client.err");
  EXPECT_EQ("test failover cancelled", State("shop"));
  EXPECT_EQ("cancelled", JobsOfKind("plan-").at(0).value("state", ""));
  EXPECT_EQ(3u, Ls("branches").size()) << "step 2's groups were done before its post script";
  Rpfs({"plan", "cleanup", "shop"});
  EXPECT_EQ(0u, Ls("branches").size());
  EXPECT_EQ("protected", State("shop"));
}

// Acceptance 5: numbered writes alternate between a disk of db and one of
// web; the plan's branches hold a prefix of that order.
class Alternator {
 public:
  // Writes go to blocks first_block, first_block + 1, ... of each disk.
  Alternator(std::string db, std::string web, uint64_t first_block)
      : db_(std::move(db)), web_(std::move(web)), first_(first_block) {}
  ~Alternator() { Stop(); }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t done() const { return done_; }
  bool running() const { return !finished_; }
  // Waits until n writes are done (false if the writer ended first).
  bool WaitFor(uint64_t n) const {
    while (done_ < n && running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return done_ >= n;
  }
  std::string error() const {
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }

 private:
  void Run() {
    int fds[2] = {::open(db_.c_str(), O_WRONLY), ::open(web_.c_str(), O_WRONLY)};
    char block[4096];
    for (uint64_t i = 0; !stop_ && i < 8192 && fds[0] >= 0 && fds[1] >= 0; ++i) {
      const uint64_t n = i + 1;  // 0 is a block never written
      for (size_t at = 0; at < sizeof block; at += 8) std::memcpy(block + at, &n, 8);
      if (::pwrite(fds[i % 2], block, sizeof block, static_cast<off_t>((first_ + i / 2) * sizeof block)) !=
          static_cast<ssize_t>(sizeof block)) {
        std::lock_guard<std::mutex> l(mu_);
        error_ = std::string("pwrite: ") + std::strerror(errno);
        break;
      }
      done_ = n;
      // About a thousand writes a second: slow steps (a point, the plan
      // run; seconds under ASan) must not outlast the 8192 writes.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    if (fds[0] < 0 || fds[1] < 0) {
      std::lock_guard<std::mutex> l(mu_);
      error_ = std::string("open: ") + std::strerror(errno);
    }
    finished_ = true;
  }
  std::string db_, web_;
  uint64_t first_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> done_{0};
  std::atomic<bool> finished_{false};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

// The numbers in `blocks` blocks of a flat file from block `first` (0: unwritten).
std::vector<uint64_t> Numbers(const std::string& flat, uint64_t first, uint64_t blocks) {
  std::vector<uint64_t> out;
  std::string data = ReadFile(flat).substr(first * 4096, blocks * 4096);
  for (uint64_t b = 0; b < blocks; ++b) {
    uint64_t n;
    std::memcpy(&n, data.data() + b * 4096, 8);
    out.push_back(n);
  }
  return out;
}

TEST_F(PlanTest, LatestAndLatestCrashPutEveryGroupAtOneSequence) {
  CreatePlan("pair", R"({"steps": [{"groups": ["db"]}, {"groups": ["web"]}]})");
  for (const std::string point : {"latest-crash", "latest"}) {
    SCOPED_TRACE("--point " + point);
    // Each round in its own half of the disks (4096 blocks of 8192).
    const uint64_t first = point == "latest" ? 4096 : 0;
    Alternator writer(mnt_ + "/disks/db/d0-flat.vmdk", mnt_ + "/disks/web/d0-flat.vmdk", first);
    writer.Start();
    ASSERT_TRUE(writer.WaitFor(300)) << writer.error();
    const uint64_t before_point = writer.done();
    TakePoint("db");  // a crash point of db in the middle of the writes
    const uint64_t after_point = writer.done();
    ASSERT_TRUE(writer.WaitFor(after_point + 300)) << writer.error();
    const uint64_t before_failover = writer.done();
    Rpfs({"plan", "failover", "pair", "--test", "--point", point});
    const uint64_t after_failover = writer.done();
    ASSERT_TRUE(writer.running()) << "the writer ran out of blocks before the plan had run";
    writer.Stop();
    ASSERT_EQ("", writer.error());
    const auto branches = Branches("pair");
    std::vector<uint64_t> db = Numbers(mnt_ + "/branches/" + branches.at("db") + "/db/d0-flat.vmdk", first, 4096);
    std::vector<uint64_t> web = Numbers(mnt_ + "/branches/" + branches.at("web") + "/web/d0-flat.vmdk", first, 4096);
    // Write n went to block (n-1)/2 of db (n odd) or web (n even).
    std::set<uint64_t> seen;
    for (uint64_t b = 0; b < 4096; ++b) {
      if (db[b]) {
        EXPECT_EQ(2 * b + 1, db[b]) << "db block " << b;
        seen.insert(db[b]);
      }
      if (web[b]) {
        EXPECT_EQ(2 * b + 2, web[b]) << "web block " << b;
        seen.insert(web[b]);
      }
    }
    const uint64_t k = seen.empty() ? 0 : *seen.rbegin();
    EXPECT_EQ(k, seen.size()) << "the branches are not a prefix of the write order: " << seen.size()
                              << " writes seen, the newest is " << k;
    if (point == "latest-crash") {
      EXPECT_GE(k, before_point);
      EXPECT_LE(k, after_point + 1);
    } else {
      EXPECT_GT(after_failover, before_failover) << "the writer must run while the plan fails over";
      EXPECT_GE(k, before_failover);
      EXPECT_LE(k, after_failover + 1);
    }
    std::cout << "--point " << point << ": branches hold writes 1.." << k << std::endl;
    Rpfs({"plan", "cleanup", "pair"});
  }
}

// Acceptance 6: the seed's whole cycle through one plan.
TEST_F(PlanTest, FailoverReprotectFailbackThroughOnePlan) {
  const std::string onprem = dir_ / "onprem";
  ASSERT_EQ(0, ::mkdir(onprem.c_str(), 0755));
  CreatePlan("shop", TwoStepPlan(Log("post2")));
  auto io = [&](const std::string& flat, const std::string& cmd) {
    ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", cmd, flat}));
  };
  for (const char* g : {"db", "web", "app"}) {
    io(mnt_ + "/disks/" + g + "/d0-flat.vmdk", "write -P 0x11 0 8M");
    TakePoint(g, /*app=*/true);
    io(mnt_ + "/disks/" + g + "/d0-flat.vmdk", "write -P 0x22 8M 1M");  // after latest-app
  }
  // The on-premises VMDKs as the source site left them.
  for (const char* g : {"db", "web", "app"}) {
    Rpfs({"export", std::string(g) + "/d0", "--point", "latest", "--format", "vmdk-flat",
          onprem + "/" + g + ".vmdk"});
  }
  CliResult fo = Rpfs({"plan", "failover", "shop", "--point", "latest-app", "--fence-source"});
  EXPECT_NE(std::string::npos, fo.out.find("source fenced")) << fo.out;
  EXPECT_EQ("failed over", State("shop"));
  const auto branches = Branches("shop");
  nlohmann::json groups = Show("shop")["run"]["groups"];
  for (const char* g : {"db", "web", "app"}) {
    EXPECT_NE(std::string::npos, groups[g].value("point", "").find("app")) << groups[g].dump();
    io(mnt_ + "/branches/" + branches.at(g) + "/" + g + "/d0-flat.vmdk", "write -P 0x33 16M 2M");
  }
  Rpfs({"plan", "reprotect", "shop"});
  EXPECT_EQ("reprotected", State("shop"));
  Rpfs({"plan", "failback", "shop", "--target", "db/d0=" + onprem + "/db.vmdk", "--target",
        "web/d0=" + onprem + "/web.vmdk", "--target", "app/d0=" + onprem + "/app.vmdk"});
  EXPECT_EQ("failback complete", State("shop"));
  for (const char* g : {"db", "web", "app"}) {
    CliResult cmp = RunProgram({"qemu-img", "compare", onprem + "/" + g + ".vmdk",
                                mnt_ + "/disks/" + g + "/d0.vmdk"});
    EXPECT_EQ(0, cmp.exit_code) << g << ": " << cmp.out << cmp.err;
    EXPECT_NE(std::string::npos, cmp.out.find("Images are identical")) << cmp.out;
  }
  // Only the changed blocks went back: the 1 MiB written after the app
  // point (undone) and the 2 MiB written on the branch, per disk.
  auto failbacks = JobsOfKind("failback");
  ASSERT_EQ(3u, failbacks.size());
  for (const auto& j : failbacks) {
    EXPECT_NE(std::string::npos, j.value("details", "").find("wrote " + std::to_string(3 * kMiB) + " data bytes"))
        << j.dump();
  }
  std::vector<std::string> states;
  const nlohmann::json shown = Show("shop");
  for (const auto& h : shown["history"]) states.push_back(h.value("state", ""));
  EXPECT_EQ((std::vector<std::string>{"protected", "failed over", "reprotected", "failback complete"}), states);
  CliResult gl = Rpfs({"group", "list", "--json"});
  for (const auto& g : nlohmann::json::parse(gl.out)) EXPECT_EQ("protected", g.value("state", ""));
  // Protected again: the live disks take writes, and the plan can fail over again.
  io(mnt_ + "/disks/db/d0-flat.vmdk", "write -P 0x44 0 4k");
  Rpfs({"plan", "failover", "shop", "--test"});
  EXPECT_EQ("test failover complete", State("shop"));
  auto tags = Tags();
  EXPECT_EQ(4u, Count(tags, "pre1")) << "failover, reprotect, failback, test failover";
}

}  // namespace
}  // namespace rpfs::testing
