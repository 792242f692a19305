// Replication lag and RPO alerts (issue 8, acceptance 3): `rpfs serve`
// runs in a network namespace behind a veth pair whose source-side end
// is throttled with `tc tbf` (2 Mbit/s; the kernel has no netem). A
// mounted source takes random writes at 1 MiB/s, four times what the
// link carries, while `rpfs replicate` follows. `stat` must report the
// growing lag (bytes and time behind) and raise the RPO alert (and
// `group list` print "RPO ALERT"); once the writes stop and the limit is
// lifted, the target must catch up within a bounded time and the alert
// clear. The target then equals the source and verifies clean.
//
// Needs root, `ip` and `tc` (iproute2, scripts/setup.sh): without them
// the test fails, it never skips.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "tests/integration/replication_fixture.h"

namespace rpfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits up to `seconds` for pid to exit; SIGKILLs it after that.
// Returns its wait status, or -1 if it had to be killed.
int WaitOrKill(pid_t pid, double seconds) {
  const auto start = Clock::now();
  int status = 0;
  while (Since(start) < seconds) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

std::string Tail(const std::string& text) {
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

// One `stat --json` reading of group g's replication.
struct LagSample {
  bool present = false;  // a replication object was there
  uint64_t bytes_behind = 0, lag_s = 0, acked_seq = 0;
  bool rpo_exceeded = false;
  std::string raw;
};

class ReplicationLagTest : public ReplicationFixture {
 protected:
  void SetUp() override {
    ReplicationFixture::SetUp();
    if (HasFatalFailure()) return;
    Expect({"--vault", src_, "group", "set", "g", "--rpo", "5s"});
    MakeNetwork();
  }

  void TearDown() override {
    // Lift the limit first, so that nothing below waits on a trickle.
    if (limited_) RunProgram({"tc", "qdisc", "del", "dev", host_if_, "root"});
    for (pid_t* pid : {&fio_pid_, &replicate_pid_}) {
      if (*pid > 0) {
        ::kill(*pid, SIGKILL);
        ::waitpid(*pid, nullptr, 0);
        *pid = -1;
      }
    }
    ReplicationFixture::TearDown();  // unmounts, stops serve
    if (link_made_) RunProgram({"ip", "link", "del", host_if_});
    if (ns_made_) RunProgram({"ip", "netns", "del", ns_});
  }

  // Runs a network command; a failure fails the test with its output.
  bool Net(const std::vector<std::string>& argv) {
    CliResult r = RunProgram(argv);
    if (r.exit_code == 0) return true;
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    ADD_FAILURE() << cmd << "exited " << r.exit_code << ": " << r.err
                  << "\n(needs root and iproute2's ip and tc; scripts/setup.sh installs them)";
    return false;
  }

  // A namespace and a veth pair named after this process, on a 10.213.X.0/24
  // no interface of the host uses yet.
  void MakeNetwork() {
    const std::string id = std::to_string(::getpid());
    ns_ = "rpfs-lag-" + id;
    host_if_ = "rl" + id + "h";  // interface names: at most 15 characters
    ns_if_ = "rl" + id + "n";
    CliResult addrs = RunProgram({"ip", "-o", "-4", "addr", "show"});
    ASSERT_EQ(0, addrs.exit_code) << "cannot run ip: " << addrs.err
                                  << " (install iproute2: scripts/setup.sh)";
    int x = -1;
    for (int i = 0; i < 250 && x < 0; ++i) {
      const int cand = 1 + (static_cast<int>(::getpid()) + i) % 250;
      if (addrs.out.find("10.213." + std::to_string(cand) + ".") == std::string::npos) x = cand;
    }
    ASSERT_GT(x, 0) << "no free 10.213.X.0/24";
    host_ip_ = "10.213." + std::to_string(x) + ".1";
    ns_ip_ = "10.213." + std::to_string(x) + ".2";
    ASSERT_TRUE(Net({"ip", "netns", "add", ns_}));
    ns_made_ = true;
    ASSERT_TRUE(Net({"ip", "link", "add", host_if_, "type", "veth", "peer", "name", ns_if_}));
    link_made_ = true;
    ASSERT_TRUE(Net({"ip", "link", "set", ns_if_, "netns", ns_}));
    ASSERT_TRUE(Net({"ip", "addr", "add", host_ip_ + "/24", "dev", host_if_}));
    ASSERT_TRUE(Net({"ip", "link", "set", host_if_, "up"}));
    ASSERT_TRUE(Net({"ip", "-n", ns_, "addr", "add", ns_ip_ + "/24", "dev", ns_if_}));
    ASSERT_TRUE(Net({"ip", "-n", ns_, "link", "set", ns_if_, "up"}));
    ASSERT_TRUE(Net({"ip", "-n", ns_, "link", "set", "lo", "up"}));
  }

  std::string NsAddr() const { return ns_ip_ + ":4443"; }

  // `rpfs serve` on dst inside the namespace; waits until it listens.
  void StartServeInNamespace() {
    serve_out_ = dir_ / "serve.out";
    serve_err_ = dir_ / "serve.err";
    serve_pid_ = SpawnProgram({"ip", "netns", "exec", ns_, RPFS_BINARY, "--vault", dst_, "serve", "--listen",
                               NsAddr()},
                              serve_out_, serve_err_);
    ASSERT_GT(serve_pid_, 0) << "cannot run ip netns exec";
    for (int i = 0; i < 200; ++i) {
      if (ReadFile(serve_out_).find("serving vault") != std::string::npos) return;
      if (!ServeAlive()) {
        serve_pid_ = -1;
        FAIL() << "serve in namespace " << ns_ << " exited: " << ReadFile(serve_err_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "serve did not start: " << ReadFile(serve_err_);
  }

  LagSample Sample() {
    LagSample s;
    CliResult r = RunRpfs({"--vault", src_, "stat", "--json"});
    EXPECT_EQ(0, r.exit_code) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object() || !j.contains("groups")) return s;
    for (const auto& g : j["groups"]) {
      if (g.value("name", "") != "g" || !g.contains("replication")) continue;
      const nlohmann::json& rep = g["replication"];
      s.present = true;
      s.raw = rep.dump();
      s.bytes_behind = rep.value("bytes_behind", uint64_t{0});
      s.lag_s = rep.value("lag_s", uint64_t{0});
      s.acked_seq = rep.value("acked_seq", uint64_t{0});
      s.rpo_exceeded = rep.value("rpo_exceeded", false);
    }
    return s;
  }

  std::string GroupListText() {
    CliResult r = RunRpfs({"--vault", src_, "group", "list"});
    EXPECT_EQ(0, r.exit_code) << r.err;
    return r.out;
  }

  // The largest lag_ms among replicate's JSON status lines, and the last line.
  uint64_t MaxReplicateLagMs(nlohmann::json* last) {
    const std::string text = ReadFile(replicate_out_);
    uint64_t max_ms = 0;
    size_t at = 0;
    while (at < text.size()) {
      size_t nl = text.find('\n', at);
      if (nl == std::string::npos) break;
      nlohmann::json j = nlohmann::json::parse(text.substr(at, nl - at), nullptr, false);
      if (j.is_object()) {
        max_ms = std::max(max_ms, j.value("lag_ms", uint64_t{0}));
        *last = j;
      }
      at = nl + 1;
    }
    return max_ms;
  }

  std::string ns_, host_if_, ns_if_, host_ip_, ns_ip_;
  bool ns_made_ = false, link_made_ = false, limited_ = false;
  std::string replicate_out_, replicate_err_;
  pid_t fio_pid_ = -1, replicate_pid_ = -1;
};

TEST_F(ReplicationLagTest, LagGrowsUnderATbfLimitRaisesTheRpoAlertAndClearsWhenLifted) {
  const auto test_start = Clock::now();
  ASSERT_TRUE(Net({"tc", "qdisc", "add", "dev", host_if_, "root", "tbf", "rate", "2mbit", "burst", "32kbit",
                   "latency", "400ms"}));
  limited_ = true;
  StartServeInNamespace();
  ASSERT_FALSE(HasFatalFailure());
  MountSource();
  ASSERT_FALSE(HasFatalFailure());

  replicate_out_ = dir_ / "replicate.out";
  replicate_err_ = dir_ / "replicate.err";
  replicate_pid_ = SpawnProgram({RPFS_BINARY, "--vault", src_, "replicate", "g", "--to", NsAddr(),
                                 "--target-passphrase-file", dst_pw_, "--json"},
                                replicate_out_, replicate_err_);
  ASSERT_GT(replicate_pid_, 0);

  // 1 MiB/s of incompressible random writes (zstd cannot shrink them
  // below the 2 Mbit/s = 0.24 MiB/s the link carries), 4k-64k, fsynced.
  const std::string flat = mnt_ + "/disks/vm/d0-flat.vmdk";
  const int write_s = 18;
  fio_pid_ = SpawnProgram({"fio", "--name=steady", "--filename=" + flat, "--rw=randwrite", "--bsrange=4k-64k",
                           "--size=48M", "--rate=1m", "--time_based", "--runtime=" + std::to_string(write_s),
                           "--ioengine=psync", "--fsync=4", "--randrepeat=0", "--refill_buffers"},
                          dir_ / "fio.out", dir_ / "fio.err");
  ASSERT_GT(fio_pid_, 0);
  const auto writes_start = Clock::now();

  // While limited: the lag grows past the RPO of 5 s and the alert fires.
  uint64_t max_behind = 0, max_lag_s = 0;
  double alert_at = -1, text_alert_at = -1;
  bool writing = true;
  std::string trace;  // (s since writes began: MiB behind, lag s) every ~2 s
  int samples = 0;
  while (writing || (Since(writes_start) < write_s + 20 && text_alert_at < 0)) {
    if (writing) {
      int status;
      if (::waitpid(fio_pid_, &status, WNOHANG) == fio_pid_) {
        fio_pid_ = -1;
        writing = false;
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "fio failed: " << ReadFile(dir_ / "fio.err") << ReadFile(dir_ / "fio.out");
      }
    }
    const LagSample s = Sample();
    max_behind = std::max(max_behind, s.bytes_behind);
    max_lag_s = std::max(max_lag_s, s.lag_s);
    if (samples++ % 4 == 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.0fs:%.1fM/%llus", Since(writes_start), s.bytes_behind / 1048576.0,
                    static_cast<unsigned long long>(s.lag_s));
      trace += buf;
    }
    if (s.rpo_exceeded && alert_at < 0) {
      alert_at = Since(writes_start);
      EXPECT_GE(s.lag_s, 5u) << s.raw;  // whole seconds: 5.3 s passes an RPO of 5 s
      EXPECT_GT(s.bytes_behind, 0u) << s.raw;
    }
    if (alert_at >= 0 && text_alert_at < 0) {
      const std::string text = GroupListText();
      if (text.find("RPO ALERT") != std::string::npos) text_alert_at = Since(writes_start);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_GT(max_behind, 0u) << "stat never showed bytes behind";
  ASSERT_GE(alert_at, 0) << "rpo_exceeded never became true; max lag " << max_lag_s << " s, " << Sample().raw;
  ASSERT_GE(text_alert_at, 0) << "group list never said RPO ALERT: " << GroupListText();
  EXPECT_GE(max_lag_s, 5u);
  {
    int status;
    ASSERT_EQ(0, ::waitpid(replicate_pid_, &status, WNOHANG))
        << "replicate exited while limited: " << ReadFile(replicate_err_);
  }

  // Lift the limit: the target catches up and the alert clears.
  ASSERT_TRUE(Net({"tc", "qdisc", "del", "dev", host_if_, "root"}));
  limited_ = false;
  const auto lifted = Clock::now();
  const LagSample at_lift = Sample();
  // ~18 MiB written, at most ~5 MiB through 2 Mbit/s by now.
  EXPECT_GT(at_lift.bytes_behind, 4u << 20) << at_lift.raw;
  double caught_up_at = -1;
  LagSample s;
  std::string text;
  while (Since(lifted) < 60) {
    s = Sample();
    if (s.present && s.bytes_behind == 0 && s.lag_s == 0 && !s.rpo_exceeded) {
      text = GroupListText();
      if (text.find("RPO ALERT") == std::string::npos && text.find("caught up") != std::string::npos) {
        caught_up_at = Since(lifted);
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_GE(caught_up_at, 0) << "not caught up 60 s after lifting the limit: " << s.raw << "\n"
                             << GroupListText() << "\nreplicate: " << ReadFile(replicate_err_)
                             << Tail(ReadFile(replicate_out_));

  // replicate's own lines: the daemon's output reaches the CLI's file a
  // moment after the row that stat read.
  nlohmann::json last;
  uint64_t max_lag_ms = 0;
  for (const auto start = Clock::now(); Since(start) < 5; ) {
    max_lag_ms = MaxReplicateLagMs(&last);
    if (last.is_object() && last.value("acked_seq", uint64_t{0}) == last.value("source_seq", uint64_t{1})) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(max_lag_ms, 5000u) << "replicate's own status lines never showed the lag";
  EXPECT_EQ(last.value("acked_seq", uint64_t{0}), last.value("source_seq", uint64_t{1})) << last.dump();
  EXPECT_EQ(0u, last.value("lag_ms", uint64_t{1})) << last.dump();

  std::cout << "[lag] tbf 2mbit on " << host_if_ << ", writes 1 MiB/s for " << write_s << " s\n"
            << "[lag] RPO alert (stat) after " << alert_at << " s of writes, in group list after "
            << text_alert_at << " s\n"
            << "[lag] max bytes behind " << max_behind << ", max lag (stat) " << max_lag_s
            << " s, max lag_ms (replicate) " << max_lag_ms << "\n"
            << "[lag] while limited (t: behind/lag):" << trace << "\n"
            << "[lag] at lift: " << at_lift.bytes_behind << " bytes behind, lag " << at_lift.lag_s << " s\n"
            << "[lag] caught up and alert cleared " << caught_up_at << " s after lifting the limit\n"
            << "[lag] last replicate line: " << last.dump() << std::endl;

  // Stop replicate (SIGTERM ends the CLI; the daemon cancels its run) and serve.
  ::kill(replicate_pid_, SIGTERM);
  EXPECT_NE(-1, WaitOrKill(replicate_pid_, 30)) << "replicate did not stop on SIGTERM";
  replicate_pid_ = -1;
  EXPECT_EQ(0, StopServe());
  UnmountSource();
  EXPECT_EQ(ReadFile(serve_err_).find("diverged"), std::string::npos) << ReadFile(serve_err_);

  EXPECT_EQ(ExportSha(src_, "latest"), ExportSha(dst_, "latest"));
  CliResult r = RunRpfs({"--vault", dst_, "verify"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;
  std::cout << "[lag] test took " << Since(test_start) << " s" << std::endl;
}

}  // namespace
}  // namespace rpfs::testing
