// The command-line contract of DESIGN.md §3, seen from outside the binary: a user error exits 1
// with exactly one line on stderr, "rpfs: ...", naming what is wrong; --help, --json and
// RPFS_VAULT keep their promises.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUser = 1;

// Exit `code`, and stderr is one line "rpfs: ..." holding each of `names`.
::testing::AssertionResult IsOneLineError(const CliResult& r, int code,
                                          const std::vector<std::string>& names) {
  if (r.exit_code != code) {
    return ::testing::AssertionFailure()
           << "exit code " << r.exit_code << ", want " << code << "; stderr: [" << r.err << "]";
  }
  if (!r.err.starts_with("rpfs: ")) {
    return ::testing::AssertionFailure() << "stderr does not start with 'rpfs: ': [" << r.err
                                         << "]";
  }
  if (r.err.back() != '\n' || std::count(r.err.begin(), r.err.end(), '\n') != 1) {
    return ::testing::AssertionFailure() << "stderr is not exactly one line: [" << r.err << "]";
  }
  for (const std::string& name : names) {
    if (r.err.find(name) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "stderr does not name '" << name << "': [" << r.err << "]";
    }
  }
  return ::testing::AssertionSuccess();
}

// A vault with group "web" and a 1 MiB disk vm/d0 in it.
class CliErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_ / "pw", "test passphrase\n");
    CliResult r = RunRpfs({"init", vault_, "--passphrase-file", dir_ / "pw"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    ASSERT_NO_FATAL_FAILURE(Ok({"group", "create", "web"}));
    ASSERT_NO_FATAL_FAILURE(Ok({"disk", "create", "vm/d0", "--size", "1M", "--group", "web"}));
    WriteFile(dir_ / "data", std::string(8192, 'x'));
  }

  // Runs rpfs --vault VAULT args...
  CliResult Run(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args, env);
  }
  void Ok(const std::vector<std::string>& args) {
    CliResult r = Run(args);
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  }
  CliResult Export(const std::string& disk, const std::string& point) {
    return Run({"export", disk, dir_ / "out.raw", "--format", "raw", "--point", point});
  }
  uint64_t LastSeq() {
    CliResult r = Run({"stat", "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return nlohmann::json::parse(r.out).at("last_seq").get<uint64_t>();
  }

  TempDir dir_;
  std::string vault_ = dir_ / "vault";
};

// --- unknown names ---------------------------------------------------------------------------

TEST_F(CliErrorsTest, ExportUnknownDisk) {
  EXPECT_TRUE(IsOneLineError(Export("vm/nosuch", "latest"), kExitUser, {"vm/nosuch"}));
  // Nothing is created for a request that was refused.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.raw"));
}

TEST_F(CliErrorsTest, DiskWriteUnknownDisk) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "write", "vm/nosuch", dir_ / "data"}), kExitUser,
                             {"vm/nosuch"}));
}

TEST_F(CliErrorsTest, DiskCreateUnknownGroup) {
  EXPECT_TRUE(IsOneLineError(
      Run({"disk", "create", "vm/d1", "--size", "1M", "--group", "nosuch"}), kExitUser,
      {"nosuch"}));
}

TEST_F(CliErrorsTest, PointCreateUnknownGroup) {
  EXPECT_TRUE(IsOneLineError(Run({"point", "create", "nosuch"}), kExitUser, {"nosuch"}));
}

TEST_F(CliErrorsTest, PointListUnknownGroup) {
  EXPECT_TRUE(IsOneLineError(Run({"point", "list", "nosuch"}), kExitUser, {"nosuch"}));
}

TEST_F(CliErrorsTest, ExportUnknownPointLabel) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "nosuch"), kExitUser, {"nosuch"}));
}

TEST_F(CliErrorsTest, ExportUnknownPointId) {
  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web"}));
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "999"), kExitUser, {"999"}));
}

TEST_F(CliErrorsTest, ExportPointOfAnotherGroup) {
  // A point id names a point of one group; another group's disk cannot use it.
  ASSERT_NO_FATAL_FAILURE(Ok({"group", "create", "db"}));
  ASSERT_NO_FATAL_FAILURE(Ok({"disk", "create", "sql/d0", "--size", "1M", "--group", "db"}));
  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web"}));
  CliResult list = Run({"point", "list", "web", "--json"});
  ASSERT_EQ(list.exit_code, kExitOk) << list.err;
  std::string id = std::to_string(nlohmann::json::parse(list.out).at(0).at("id").get<uint64_t>());
  EXPECT_TRUE(IsOneLineError(Export("sql/d0", id), kExitUser, {id}));
}

TEST_F(CliErrorsTest, ExportSeqPastNewest) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "#99999999"), kExitUser, {"99999999"}));
}

TEST_F(CliErrorsTest, ExportBadSeq) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "#abc"), kExitUser, {"#abc"}));
}

TEST_F(CliErrorsTest, ExportEmptyPointName) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", ""), kExitUser, {"point"}));
}

TEST_F(CliErrorsTest, ExportLatestKindWithoutSuchPoint) {
  // No point yet: latest-app and latest-crash name nothing, and say so.
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "latest-app"), kExitUser, {"web", "app"}));
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "latest-crash"), kExitUser, {"web", "crash"}));
}

// --- sizes, offsets, durations, names ------------------------------------------------------------

TEST_F(CliErrorsTest, DiskCreateBadSizeSuffix) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "vm/d1", "--size", "12Q", "--group", "web"}),
                             kExitUser, {"12Q"}));
}

TEST_F(CliErrorsTest, DiskCreateNegativeSize) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "vm/d1", "--size", "-5", "--group", "web"}),
                             kExitUser, {"-5"}));
}

TEST_F(CliErrorsTest, DiskCreateZeroSize) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "vm/d1", "--size", "0", "--group", "web"}),
                             kExitUser, {"size", "vm/d1"}));
}

TEST_F(CliErrorsTest, DiskCreateHugeSize) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "vm/d1", "--size", "2P", "--group", "web"}),
                             kExitUser, {"size", "vm/d1"}));
}

TEST_F(CliErrorsTest, DiskCreateBadName) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "noslash", "--size", "1M", "--group", "web"}),
                             kExitUser, {"noslash"}));
}

TEST_F(CliErrorsTest, DiskCreateExisting) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "vm/d0", "--size", "1M", "--group", "web"}),
                             kExitUser, {"vm/d0"}));
}

TEST_F(CliErrorsTest, DiskWritePastEnd) {
  uint64_t before = LastSeq();
  // 8 KiB at 1 MiB - 4 KiB: the second half falls off the 1 MiB disk.
  EXPECT_TRUE(IsOneLineError(Run({"disk", "write", "vm/d0", dir_ / "data", "--offset", "1044480"}),
                             kExitUser, {"vm/d0", "1044480"}));
  EXPECT_TRUE(IsOneLineError(Run({"disk", "write", "vm/d0", dir_ / "data", "--offset", "2M"}),
                             kExitUser, {"vm/d0"}));
  // A refused write journals nothing.
  EXPECT_EQ(LastSeq(), before);
}

TEST_F(CliErrorsTest, DiskWriteBadOffset) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "write", "vm/d0", dir_ / "data", "--offset", "1x"}),
                             kExitUser, {"1x"}));
}

TEST_F(CliErrorsTest, DiskWriteMissingFile) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "write", "vm/d0", dir_ / "nosuch"}), kExitUser,
                             {dir_ / "nosuch"}));
}

TEST_F(CliErrorsTest, DiskImportMissingFile) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "import", "vm/d1", dir_ / "nosuch", "--group", "web"}),
                             kExitUser, {dir_ / "nosuch"}));
}

TEST_F(CliErrorsTest, DiskImportEmptyFile) {
  WriteFile(dir_ / "empty", "");
  EXPECT_TRUE(IsOneLineError(Run({"disk", "import", "vm/d1", dir_ / "empty", "--group", "web"}),
                             kExitUser, {dir_ / "empty"}));
}

TEST_F(CliErrorsTest, DiskImportUnknownGroup) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "import", "vm/d1", dir_ / "data", "--group", "nosuch"}),
                             kExitUser, {"nosuch"}));
}

TEST_F(CliErrorsTest, GroupCreateBadDuration) {
  for (const char* flag : {"--retention", "--crash-every", "--app-every", "--rpo"}) {
    SCOPED_TRACE(flag);
    EXPECT_TRUE(IsOneLineError(Run({"group", "create", "g2", flag, "5x"}), kExitUser, {"5x"}));
  }
  // None of the refused groups was created.
  CliResult r = Run({"group", "list", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
}

TEST_F(CliErrorsTest, GroupCreateBadName) {
  EXPECT_TRUE(IsOneLineError(Run({"group", "create", "a/b"}), kExitUser, {"a/b"}));
}

TEST_F(CliErrorsTest, GroupCreateExisting) {
  EXPECT_TRUE(IsOneLineError(Run({"group", "create", "web"}), kExitUser, {"web"}));
}

TEST_F(CliErrorsTest, PointCreateAllDigitLabel) {
  // An all-digit label would be read back as a point id.
  EXPECT_TRUE(IsOneLineError(Run({"point", "create", "web", "--label", "123"}), kExitUser,
                             {"123"}));
}

TEST_F(CliErrorsTest, PointCreateAppFailingFreezeHook) {
  ASSERT_NO_FATAL_FAILURE(Ok({"group", "create", "hooked", "--freeze-hook", "false"}));
  EXPECT_TRUE(IsOneLineError(Run({"point", "create", "hooked", "--app"}), kExitUser,
                             {"hooked", "freeze"}));
  CliResult r = Run({"point", "list", "hooked", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).empty()) << "a point was taken without a freeze";
}

// --- the vault itself ---------------------------------------------------------------------------

TEST_F(CliErrorsTest, VaultMissing) {
  EXPECT_TRUE(IsOneLineError(RunRpfs({"--vault", "/nonexistent", "stat"}), kExitUser,
                             {"/nonexistent"}));
  EXPECT_TRUE(IsOneLineError(RunRpfs({"--vault", "/nonexistent", "disk", "list"}), kExitUser,
                             {"/nonexistent"}));
}

TEST_F(CliErrorsTest, VaultDirectoryWithoutVault) {
  std::filesystem::create_directory(dir_ / "empty");
  EXPECT_TRUE(IsOneLineError(RunRpfs({"--vault", dir_ / "empty", "stat"}), kExitUser,
                             {dir_ / "empty"}));
}

TEST_F(CliErrorsTest, NoVaultGiven) {
  // RunRpfs drops RPFS_VAULT from the child's environment.
  CliResult r = RunRpfs({"group", "list"});
  EXPECT_TRUE(IsOneLineError(r, kExitUser, {"--vault", "RPFS_VAULT"}));
}

TEST_F(CliErrorsTest, RpfsVaultMissing) {
  EXPECT_TRUE(IsOneLineError(RunRpfs({"stat"}, {"RPFS_VAULT=/nonexistent"}), kExitUser,
                             {"/nonexistent"}));
}

TEST_F(CliErrorsTest, VaultLockedByAnotherProcess) {
  // Our own open file description: rpfs's flock(LOCK_EX|LOCK_NB) on its own one must fail.
  int fd = ::open((vault_ + "/LOCK").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_TRUE(IsOneLineError(Run({"stat"}), kExitUser, {"locked", vault_}));
  EXPECT_TRUE(IsOneLineError(Run({"disk", "write", "vm/d0", dir_ / "data"}), kExitUser,
                             {"locked"}));
  ::close(fd);
  // Released: the vault opens again.
  CliResult r = Run({"stat"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
}

TEST_F(CliErrorsTest, InitOnExistingVault) {
  CliResult r = RunRpfs({"init", vault_, "--passphrase-file", dir_ / "pw"});
  EXPECT_TRUE(IsOneLineError(r, kExitUser, {vault_}));
  // The vault that was there is untouched.
  CliResult list = Run({"disk", "list", "--json"});
  ASSERT_EQ(list.exit_code, kExitOk) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 1u);
}

TEST_F(CliErrorsTest, InitBadBlockSize) {
  CliResult r = RunRpfs({"init", dir_ / "v2", "--passphrase-file", dir_ / "pw", "--block-size",
                         "3000"});
  EXPECT_TRUE(IsOneLineError(r, kExitUser, {"3000"}));
}

TEST_F(CliErrorsTest, InitMissingPassphraseFile) {
  CliResult r = RunRpfs({"init", dir_ / "v2", "--passphrase-file", dir_ / "nosuch"});
  EXPECT_TRUE(IsOneLineError(r, kExitUser, {dir_ / "nosuch"}));
}

// --- time points ----------------------------------------------------------------------------

TEST_F(CliErrorsTest, ExportBadTimeWords) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "@yesterday"), kExitUser, {"yesterday"}));
}

TEST_F(CliErrorsTest, ExportBadTimeMonth) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "@2026-13-01T00:00:00Z"), kExitUser,
                             {"2026-13-01T00:00:00Z"}));
}

TEST_F(CliErrorsTest, ExportTimeWithoutZone) {
  // Without a zone the instant is ambiguous; rpfs must not guess.
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "@2026-11-25T10:00:00"), kExitUser,
                             {"2026-11-25T10:00:00"}));
}

TEST_F(CliErrorsTest, ExportTimeBeforeVaultCreated) {
  EXPECT_TRUE(IsOneLineError(Export("vm/d0", "@2000-01-01T00:00:00Z"), kExitUser,
                             {"2000-01-01T00:00:00Z"}));
}

// --- export arguments -------------------------------------------------------------------------

TEST_F(CliErrorsTest, ExportUnknownFormat) {
  CliResult r = Run({"export", "vm/d0", dir_ / "out.img", "--format", "qcow2"});
  EXPECT_TRUE(IsOneLineError(r, kExitUser, {"qcow2"}));
}

TEST_F(CliErrorsTest, ExportIntoMissingDirectory) {
  CliResult r = Run({"export", "vm/d0", dir_ / "nodir/out.raw", "--format", "raw"});
  EXPECT_TRUE(IsOneLineError(r, kExitUser, {dir_ / "nodir/out.raw"}));
}

// --- the command line itself --------------------------------------------------------------------

TEST_F(CliErrorsTest, UnknownSubcommand) {
  EXPECT_TRUE(IsOneLineError(Run({"frobnicate"}), kExitUser, {"frobnicate"}));
}

TEST_F(CliErrorsTest, UnknownNestedSubcommand) {
  EXPECT_TRUE(IsOneLineError(Run({"group", "frob"}), kExitUser, {"frob"}));
}

TEST_F(CliErrorsTest, UnknownOption) {
  EXPECT_TRUE(IsOneLineError(Run({"stat", "--bogus"}), kExitUser, {"--bogus"}));
  EXPECT_TRUE(IsOneLineError(RunRpfs({"--bogus", "stat"}), kExitUser, {"--bogus"}));
}

TEST_F(CliErrorsTest, MissingRequiredOption) {
  EXPECT_TRUE(IsOneLineError(Run({"disk", "create", "vm/d1", "--group", "web"}), kExitUser,
                             {"--size"}));
}

TEST_F(CliErrorsTest, NoSubcommand) {
  EXPECT_TRUE(IsOneLineError(RunRpfs({}), kExitUser, {}));
  EXPECT_TRUE(IsOneLineError(Run({"disk"}), kExitUser, {}));
}

// --- the positive contract -------------------------------------------------------------------

TEST_F(CliErrorsTest, HelpListsCommands) {
  CliResult r = RunRpfs({"--help"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  for (const char* cmd : {"init", "group", "disk", "point", "export", "verify", "stat"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << " missing from:\n" << r.out;
  }
}

TEST_F(CliErrorsTest, HelpOfEveryCommand) {
  const std::vector<std::vector<std::string>> commands = {
      {"init"},         {"group", "create"}, {"group", "list"}, {"disk", "create"},
      {"disk", "import"}, {"disk", "write"}, {"disk", "list"},  {"point", "create"},
      {"point", "list"}, {"export"},         {"verify"},        {"stat"}};
  for (std::vector<std::string> args : commands) {
    const std::string leaf = args.back();
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + leaf : ""));
    args.push_back("--help");
    // Help needs no vault and ignores the command's required arguments.
    CliResult r = RunRpfs(args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(leaf), std::string::npos) << r.out;
  }
}

TEST_F(CliErrorsTest, JsonListings) {
  ASSERT_NO_FATAL_FAILURE(Ok({"disk", "write", "vm/d0", dir_ / "data"}));
  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web", "--label", "first"}));

  CliResult r = Run({"group", "list", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  nlohmann::json groups = nlohmann::json::parse(r.out);
  ASSERT_TRUE(groups.is_array());
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].at("name"), "web");
  EXPECT_EQ(groups[0].at("retention_s"), 72 * 3600);  // the default 72h
  EXPECT_EQ(groups[0].at("crash_every_s"), 5 * 60);
  EXPECT_EQ(groups[0].at("app_every_s"), 4 * 3600);
  EXPECT_TRUE(groups[0].contains("rpo_s"));

  r = Run({"disk", "list", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  nlohmann::json disks = nlohmann::json::parse(r.out);
  ASSERT_TRUE(disks.is_array());
  ASSERT_EQ(disks.size(), 1u);
  EXPECT_EQ(disks[0].at("name"), "vm/d0");
  EXPECT_EQ(disks[0].at("size"), 1 << 20);
  EXPECT_EQ(disks[0].at("group"), "web");
  EXPECT_TRUE(disks[0].contains("id"));

  using Args = std::vector<std::string>;
  for (const Args& args :
       {Args{"point", "list", "--json"}, Args{"point", "list", "web", "--json"}}) {
    r = Run(args);
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    nlohmann::json points = nlohmann::json::parse(r.out);
    ASSERT_TRUE(points.is_array());
    ASSERT_EQ(points.size(), 1u);
    EXPECT_EQ(points[0].at("group"), "web");
    EXPECT_EQ(points[0].at("kind"), "crash");
    EXPECT_EQ(points[0].at("label"), "first");
    EXPECT_TRUE(points[0].at("id").is_number_unsigned());
    EXPECT_TRUE(points[0].at("seq").is_number_unsigned());
    EXPECT_TRUE(points[0].at("time").is_string());
  }

  r = Run({"stat", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  nlohmann::json st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st.at("block_size"), 4096);
  EXPECT_GE(st.at("last_seq").get<uint64_t>(), 2u);  // the write and the point
  EXPECT_GT(st.at("journal_bytes").get<uint64_t>(), 0u);  // zstd shrinks the write
  EXPECT_TRUE(st.at("created").is_string());
  ASSERT_EQ(st.at("groups").size(), 1u);
  EXPECT_EQ(st.at("groups")[0].at("name"), "web");
  EXPECT_EQ(st.at("groups")[0].at("points"), 1);
  ASSERT_EQ(st.at("disks").size(), 1u);
  EXPECT_EQ(st.at("disks")[0].at("name"), "vm/d0");
}

TEST_F(CliErrorsTest, JsonListingsOfEmptyVault) {
  // An empty list is still JSON: scripts parse before they count.
  TempDir other;
  CliResult r = RunRpfs({"init", other / "v", "--passphrase-file", dir_ / "pw"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  for (const char* what : {"group", "disk", "point"}) {
    r = RunRpfs({"--vault", other / "v", what, "list", "--json"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_TRUE(j.is_array() && j.empty()) << what << ": " << r.out;
  }
}

TEST_F(CliErrorsTest, RpfsVaultInPlaceOfOption) {
  const std::vector<std::string> env = {"RPFS_VAULT=" + vault_};
  CliResult r = RunRpfs({"disk", "create", "vm/d1", "--size", "2M", "--group", "web"}, env);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  r = RunRpfs({"disk", "list", "--json"}, env);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 2u);
  // --vault wins over RPFS_VAULT.
  r = RunRpfs({"--vault", vault_, "stat"}, {"RPFS_VAULT=/nonexistent"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
}

}  // namespace
}  // namespace rpfs::testing
