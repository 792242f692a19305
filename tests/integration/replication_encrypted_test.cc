// Replication between encrypted vaults (issue 8): the source opens its
// journal with its own passphrase, pairs with the target's, and the target
// seals what it applies under its own data key: the same bytes read back,
// none of them in clear in any file of the target vault.
#include "tests/integration/replication_fixture.h"

namespace rpfs::testing {
namespace {

class ReplicationEncryptedTest : public ReplicationFixture {
 protected:
  void SetUp() override {
    src_ = dir_ / "esrc";
    dst_ = dir_ / "edst";
    src_pw_ = dir_ / "esrc.pw";
    dst_pw_ = dir_ / "edst.pw";
    WriteFile(src_pw_, "source secret\n");
    WriteFile(dst_pw_, "target secret\n");
    port_ = FreePort();
    ASSERT_EQ(0, RunRpfs({"init", src_, "--encrypt", "--passphrase-file", src_pw_}).exit_code);
    ASSERT_EQ(0, RunRpfs({"init", dst_, "--encrypt", "--passphrase-file", dst_pw_}).exit_code);
    Src({"group", "create", "g", "--crash-every", "0", "--app-every", "0"});
  }
  CliResult Src(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", src_});
    CliResult r = RunRpfs(args, {"RPFS_PASSPHRASE_FILE=" + src_pw_});
    EXPECT_EQ(0, r.exit_code) << r.err;
    return r;
  }
  CliResult Dst(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", dst_});
    CliResult r = RunRpfs(args, {"RPFS_PASSPHRASE_FILE=" + dst_pw_});
    EXPECT_EQ(0, r.exit_code) << r.err;
    return r;
  }
};

TEST_F(ReplicationEncryptedTest, TheTargetSealsWhatItAppliesAndReadsBackTheSameBytes) {
  const std::string img = dir_ / "img";
  ASSERT_EQ(0, RunProgram({"sh", "-c", "head -c 4M /dev/urandom > " + img}).exit_code);
  Src({"disk", "import", "vm/d1", img, "--group", "g"});
  Src({"point", "create", "g", "--label", "p1"});
  serve_out_ = dir_ / "serve.out";
  serve_err_ = dir_ / "serve.err";
  serve_pid_ = SpawnProgram({RPFS_BINARY, "--vault", dst_, "serve", "--listen", Addr()}, serve_out_,
                            serve_err_, {"RPFS_PASSPHRASE_FILE=" + dst_pw_});
  ASSERT_GT(serve_pid_, 0);
  for (int i = 0; i < 200 && ReadFile(serve_out_).find("serving") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CliResult r = Src({"replicate", "g", "--to", Addr(), "--target-passphrase-file", dst_pw_, "--once"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_EQ(0, StopServe()) << ReadFile(serve_err_);

  const std::string a = dir_ / "a.raw", b = dir_ / "b.raw";
  Src({"export", "vm/d1", "--point", "p1", "--format", "raw", a});
  Dst({"export", "vm/d1", "--point", "p1", "--format", "raw", b});
  EXPECT_EQ(ReadFile(img), ReadFile(a));
  EXPECT_EQ(ReadFile(img), ReadFile(b));
  // No 64-byte piece of the data in clear anywhere in the target vault.
  const std::string data = ReadFile(img);
  r = RunProgram({"sh", "-c", "find " + dst_ + " -type f"});
  ASSERT_EQ(0, r.exit_code);
  size_t files = 0, found = 0;
  std::istringstream list(r.out);
  for (std::string f; std::getline(list, f);) {
    const std::string bytes = ReadFile(f);
    ++files;
    for (size_t off = 0; off + 64 <= data.size(); off += 64 * 1024) {
      if (bytes.find(data.substr(off, 64)) != std::string::npos) ++found;
    }
  }
  EXPECT_GT(files, 2u);
  EXPECT_EQ(0u, found) << "plaintext of the disk in the target vault";
  // The search finds what is there: the source's own export holds it.
  EXPECT_NE(ReadFile(a).find(data.substr(64 * 1024, 64)), std::string::npos);
  r = Dst({"verify", "--deep"});
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;
  // The target vault without its passphrase: refused before any read.
  r = RunRpfs({"--vault", dst_, "point", "list"}, {"RPFS_PASSPHRASE_FILE=" + src_pw_});
  EXPECT_EQ(1, r.exit_code) << r.err;
}

}  // namespace
}  // namespace rpfs::testing
