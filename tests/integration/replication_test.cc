// Replication end to end (issue 8, acceptance 1): a mounted source taking
// writes from fio and qemu-io, crash and app points in between, `rpfs
// replicate` killed with SIGKILL mid-stream, then `replicate --once`: the
// target's exports at latest, latest-app and every point equal the
// source's, its points are the source's, and it verifies clean. Also a
// SIGKILL of the server mid-stream.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/integration/replication_fixture.h"

namespace rpfs::testing {
namespace {

class ReplicationTest : public ReplicationFixture {
 protected:
  std::string Flat() const { return mnt_ + "/disks/vm/d0-flat.vmdk"; }

  // Waits until the replicate writing JSON lines to `out` reports an ack;
  // returns that line.
  nlohmann::json WaitForAck(const std::string& out, pid_t pid) {
    for (int i = 0; i < 600; ++i) {
      std::string text = ReadFile(out);
      size_t at = 0;
      while (at < text.size()) {
        size_t nl = text.find('\n', at);
        if (nl == std::string::npos) break;
        nlohmann::json j = nlohmann::json::parse(text.substr(at, nl - at), nullptr, false);
        if (j.is_object() && j.value("records", 0) > 0) return j;
        at = nl + 1;
      }
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        ADD_FAILURE() << "replicate exited before its first ack: " << text;
        return {};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no ack within 30 s";
    return {};
  }

};

TEST_F(ReplicationTest, KilledMidStreamThenOnceMakesTheTargetEqualTheSource) {
  MountSource();
  CliResult r = RunProgram({"fio", "--name=w", "--filename=" + Flat(), "--rw=randwrite", "--bs=4k",
                            "--size=48M", "--io_size=24M", "--ioengine=psync", "--fsync=64",
                            "--randrepeat=0", "--refill_buffers"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  Expect({"--vault", src_, "point", "create", "g", "--label", "crash1"});
  r = RunProgram({"qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 3M", "-c", "write -z 8M 1M", Flat()});
  ASSERT_EQ(0, r.exit_code) << r.err;
  Expect({"--vault", src_, "point", "create", "g", "--app", "--label", "app1"});
  r = RunProgram({"fio", "--name=s", "--filename=" + Flat(), "--rw=write", "--bs=1M", "--offset=32M",
                  "--size=16M", "--ioengine=psync", "--end_fsync=1", "--refill_buffers"});
  ASSERT_EQ(0, r.exit_code) << r.err;

  StartServe();
  // Paced so that the kill lands mid-stream: ~45 MiB at 8 MiB/s.
  std::vector<std::string> args = ReplicateArgs();
  args.insert(args.begin(), RPFS_BINARY);
  for (const char* a : {"--json", "--max-rate", "8M", "--batch-size", "512K"}) args.push_back(a);
  const std::string out = dir_ / "replicate.out", err = dir_ / "replicate.err";
  pid_t pid = SpawnProgram(args, out, err);
  ASSERT_GT(pid, 0);
  nlohmann::json first = WaitForAck(out, pid);
  ASSERT_TRUE(first.is_object());
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "replicate finished before the kill: the test proves nothing";
  EXPECT_LT(first.value("acked_seq", 0), first.value("source_seq", 0)) << first.dump();

  // More writes and a point after the kill: the resumed run ships them too.
  r = RunProgram({"qemu-io", "-f", "raw", "-c", "write -P 0x77 40M 1M", Flat()});
  ASSERT_EQ(0, r.exit_code) << r.err;
  Expect({"--vault", src_, "point", "create", "g", "--label", "crash2"});

  std::vector<std::string> once = ReplicateArgs();
  once.push_back("--once");
  r = RunRpfs(once);
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(r.out.find("applied up to source seq"), std::string::npos) << r.out;
  EXPECT_EQ(0, StopServe());
  EXPECT_EQ(ReadFile(serve_err_).find("stream diverged"), std::string::npos) << ReadFile(serve_err_);

  for (const char* p : {"latest", "latest-app", "latest-crash", "crash1", "app1", "crash2"}) {
    EXPECT_EQ(ExportSha(src_, p), ExportSha(dst_, p)) << "at " << p;
  }
  EXPECT_NE(ExportSha(src_, "crash1"), ExportSha(src_, "latest"));
  EXPECT_EQ(Points(src_), Points(dst_));
  EXPECT_EQ(3u, Points(dst_).size());
  r = RunRpfs({"--vault", dst_, "verify", "--deep"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;
  // The target's replica refuses writes of its own.
  r = RunRpfs({"--vault", dst_, "point", "create", "g"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(r.err.find("replica"), std::string::npos) << r.err;
  // Each session left a job on the source.
  r = RunRpfs({"--vault", src_, "jobs", "--json"});
  EXPECT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(r.out.find("\"replicate\""), std::string::npos) << r.out;
}

TEST_F(ReplicationTest, ServerKilledMidStreamComesBackAndOnceFinishes) {
  const std::string img = dir_ / "img";
  CliResult r = RunProgram({"sh", "-c", "head -c 40M /dev/urandom > " + img});
  ASSERT_EQ(0, r.exit_code) << r.err;
  Expect({"--vault", src_, "disk", "import", "vm/d1", img, "--group", "g"});
  Expect({"--vault", src_, "point", "create", "g", "--label", "p1"});
  StartServe();
  std::vector<std::string> args = ReplicateArgs();
  args.insert(args.begin(), RPFS_BINARY);
  for (const char* a : {"--once", "--json", "--max-rate", "8M", "--batch-size", "512K"}) args.push_back(a);
  const std::string out = dir_ / "replicate.out", err = dir_ / "replicate.err";
  pid_t pid = SpawnProgram(args, out, err);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForAck(out, pid).is_object());
  StopServe(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  StartServe();
  int status;
  ASSERT_EQ(pid, ::waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status)) << ReadFile(err);
  EXPECT_EQ(0, WEXITSTATUS(status)) << ReadFile(err);
  EXPECT_NE(ReadFile(err).find("retrying"), std::string::npos) << "no reconnect: " << ReadFile(err);
  EXPECT_EQ(0, StopServe());
  EXPECT_EQ(ExportSha(src_, "latest", "vm/d1"), ExportSha(dst_, "latest", "vm/d1"));
  EXPECT_EQ(ExportSha(src_, "p1", "vm/d1"), ExportSha(dst_, "p1", "vm/d1"));
  EXPECT_EQ(Points(src_), Points(dst_));
  r = RunRpfs({"--vault", dst_, "verify", "--deep"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

}  // namespace
}  // namespace rpfs::testing
