// Replication the other way after re-protect (issue 8): vault S replicates
// group g to vault T; T fails over at a replicated point, re-protects and
// takes writes on its failover branch; then `replicate` on T ships that
// branch back to S — only the blocks written since the fork — where it
// lands on a branch forked at the same point, and `failback` from S brings
// the on-premises file to T's state.
#include "tests/integration/replication_fixture.h"

namespace rpfs::testing {
namespace {

class ReplicationReverseTest : public ReplicationFixture {
 protected:
  // `rpfs serve` on `vault` (the fixture's serve runs on dst_).
  void ServeOn(const std::string& vault) {
    serve_out_ = dir_ / ("serve" + std::to_string(++serves_) + ".out");
    serve_err_ = dir_ / ("serve" + std::to_string(serves_) + ".err");
    serve_pid_ = SpawnProgram({RPFS_BINARY, "--vault", vault, "serve", "--listen", Addr()}, serve_out_,
                              serve_err_);
    ASSERT_GT(serve_pid_, 0);
    for (int i = 0; i < 200 && ReadFile(serve_out_).find("serving") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_NE(ReadFile(serve_out_).find("serving"), std::string::npos) << ReadFile(serve_err_);
  }
  std::string Random(const std::string& name, const std::string& size) {
    const std::string f = dir_ / name;
    EXPECT_EQ(0, RunProgram({"sh", "-c", "head -c " + size + " /dev/urandom > " + f}).exit_code);
    return f;
  }
};

TEST_F(ReplicationReverseTest, AFailoverReplicatesBackAsOnlyItsChangesAndFailsBackFromTheSource) {
  Expect({"--vault", src_, "disk", "write", "vm/d0", Random("a", "4M")});
  Expect({"--vault", src_, "point", "create", "g", "--label", "p1"});
  Expect({"--vault", src_, "disk", "write", "vm/d0", Random("b", "1M"), "--offset", "16M"});
  ServeOn(dst_);
  std::vector<std::string> once = ReplicateArgs();
  once.push_back("--once");
  Expect(once);
  EXPECT_EQ(0, StopServe());

  // Disaster: T fails over at p1 and runs the VM there.
  Expect({"--vault", dst_, "failover", "g", "--point", "p1", "--name", "dr"});
  CliResult r = RunRpfs({"--vault", dst_, "replicate", "g", "--to", Addr(), "--target-passphrase-file",
                         src_pw_, "--once"});
  EXPECT_EQ(1, r.exit_code) << "a failed-over group replicated before reprotect";
  Expect({"--vault", dst_, "reprotect", "g"});
  Expect({"--vault", dst_, "disk", "write", "vm/d0", Random("c", "1M"), "--offset", "32M"});
  Expect({"--vault", dst_, "point", "create", "g", "--app", "--label", "at-dr"});
  Expect({"--vault", dst_, "disk", "write", "vm/d0", Random("d", "256K"), "--offset", "1M"});

  // Re-protected: T ships its branch back to S.
  ServeOn(src_);
  r = RunRpfs({"--vault", dst_, "replicate", "g", "--to", Addr(), "--target-passphrase-file", src_pw_,
               "--once"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(r.out.find("(320 records"), std::string::npos)
      << "not just the 1.25 MiB written since the fork: " << r.out;
  EXPECT_EQ(0, StopServe());
  EXPECT_NE(ReadFile(serve_err_).find("comes back from vault"), std::string::npos) << ReadFile(serve_err_);

  EXPECT_EQ(ExportSha(dst_, "latest"), ExportSha(src_, "latest"));
  EXPECT_EQ(ExportSha(dst_, "at-dr"), ExportSha(src_, "at-dr"));
  EXPECT_NE(ExportSha(src_, "p1"), ExportSha(src_, "latest"));
  r = RunRpfs({"--vault", src_, "group", "list", "--json"});
  EXPECT_NE(r.out.find("\"reprotected\""), std::string::npos) << r.out;
  // The branch that came back takes writes only from replication.
  r = RunRpfs({"--vault", src_, "disk", "write", "vm/d0", dir_ / "d"});
  EXPECT_EQ(1, r.exit_code) << r.out;

  // Failback from S: the on-premises file, as it was at p1, becomes T's state.
  const std::string onprem = dir_ / "onprem.raw";
  Expect({"--vault", src_, "export", "vm/d0", "--point", "p1", "--format", "raw", onprem});
  Expect({"--vault", src_, "failback", "g", "--target", "vm/d0=" + onprem});
  CliResult sum = RunProgram({"sha256sum", onprem});
  EXPECT_EQ(ExportSha(dst_, "latest"), sum.out.substr(0, 64));
  // Home again: S is nobody's replica and takes writes.
  Expect({"--vault", src_, "disk", "write", "vm/d0", dir_ / "d", "--offset", "2M"});
  r = RunRpfs({"--vault", src_, "verify", "--deep"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

}  // namespace
}  // namespace rpfs::testing
