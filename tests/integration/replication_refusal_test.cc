// What the process server refuses and survives (issue 8, acceptance 4): a
// wrong passphrase gets exit 1 and one clear line, and nothing reaches
// the target; 200 KB of random bytes, a plaintext HTTP request and a
// stalled half-open client on the port do not keep a real client from
// replicating, and the server keeps running.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <random>

#include "tests/integration/replication_fixture.h"

namespace rpfs::testing {
namespace {

class ReplicationRefusalTest : public ReplicationFixture {
 protected:
  void SetUp() override {
    ReplicationFixture::SetUp();
    const std::string img = dir_ / "img";
    ASSERT_EQ(0, RunProgram({"sh", "-c", "head -c 4M /dev/urandom > " + img}).exit_code);
    Expect({"--vault", src_, "disk", "import", "vm/d1", img, "--group", "g"});
    StartServe();
  }
};

TEST_F(ReplicationRefusalTest, WrongPassphraseIsOneLineAndExitOneAndNothingApplied) {
  const std::string wrong = dir_ / "wrong.pw";
  WriteFile(wrong, "not the target passphrase\n");
  CliResult r = RunRpfs({"--vault", src_, "replicate", "g", "--to", Addr(), "--target-passphrase-file",
                         wrong, "--once"});
  EXPECT_EQ(1, r.exit_code) << r.err;
  EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << r.err;
  EXPECT_NE(r.err.find("wrong passphrase"), std::string::npos) << r.err;
  // The source's own passphrase is not the target's either.
  r = RunRpfs({"--vault", src_, "replicate", "g", "--to", Addr(), "--target-passphrase-file", src_pw_,
               "--once"});
  EXPECT_EQ(1, r.exit_code) << r.err;
  EXPECT_TRUE(ServeAlive());
  EXPECT_EQ(0, StopServe());
  EXPECT_NE(ReadFile(serve_err_).find("wrong passphrase"), std::string::npos) << ReadFile(serve_err_);
  r = RunRpfs({"--vault", dst_, "group", "list", "--json"});
  EXPECT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ(r.out.find("\"g\""), std::string::npos) << "a refused client created something: " << r.out;
  r = RunRpfs({"--vault", dst_, "disk", "list", "--json"});
  EXPECT_EQ(r.out.find("vm/d1"), std::string::npos) << r.out;
}

TEST_F(ReplicationRefusalTest, GarbagePlaintextAndAHalfOpenClientDoNotStopTheServer) {
  // A client that connects and says nothing, kept open throughout.
  int idle = ConnectLoopback(port_);
  ASSERT_GE(idle, 0);
  // 200 KB of random bytes.
  int junk = ConnectLoopback(port_);
  ASSERT_GE(junk, 0);
  std::string bytes(200 << 10, '\0');
  std::mt19937 rng(8);
  for (char& c : bytes) c = static_cast<char>(rng());
  (void)::send(junk, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  // Plaintext HTTP, as a misdirected browser or health check would send.
  int http = ConnectLoopback(port_);
  ASSERT_GE(http, 0);
  const std::string get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  (void)::send(http, get.data(), get.size(), MSG_NOSIGNAL);
  char buf[256];
  ssize_t n = ::recv(http, buf, sizeof buf, 0);  // a TLS alert or nothing, then the close
  (void)n;

  // Meanwhile a real client replicates, twice (a new session each time).
  std::vector<std::string> once = ReplicateArgs();
  once.push_back("--once");
  CliResult r = RunRpfs(once);
  ASSERT_EQ(0, r.exit_code) << r.err;
  r = RunRpfs(once);
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_TRUE(ServeAlive());
  ::close(junk);
  ::close(http);
  ::close(idle);
  EXPECT_EQ(0, StopServe());
  const std::string log = ReadFile(serve_err_);
  EXPECT_NE(log.find("TLS handshake"), std::string::npos) << log;
  EXPECT_EQ(ExportSha(src_, "latest", "vm/d1"), ExportSha(dst_, "latest", "vm/d1"));
}

}  // namespace
}  // namespace rpfs::testing
