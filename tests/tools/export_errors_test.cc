// `rpfs export` refusals and failures, for every format: an unknown format, an OUT that cannot
// be written, an unknown point each exit 1 with one line "rpfs: ..." naming what is wrong and
// leave nothing behind; a write that fails halfway removes the partial output (OUT.tmp) and
// leaves an existing OUT as it was. `export --help` says what the formats are.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

const std::vector<std::string> kFormats = {"raw", "vmdk-flat", "vmdk-sparse", "vmdk-stream"};

// Exit `code`, and stderr is exactly one line "rpfs: ..." holding each of `names`.
::testing::AssertionResult IsOneLineError(const CliResult& r, int code,
                                          const std::vector<std::string>& names) {
  if (r.exit_code != code) {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ", want " << code
                                         << "; stderr: [" << r.err << "]";
  }
  if (!r.err.starts_with("rpfs: ") || r.err.back() != '\n' ||
      r.err.find('\n') != r.err.size() - 1) {
    return ::testing::AssertionFailure() << "stderr is not one 'rpfs: ' line: [" << r.err << "]";
  }
  for (const std::string& name : names) {
    if (r.err.find(name) == std::string::npos) {
      return ::testing::AssertionFailure() << "stderr does not name '" << name << "': ["
                                           << r.err << "]";
    }
  }
  return ::testing::AssertionSuccess();
}

// The files a directory holds, by name.
std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A vault with a 16 MiB disk vm/d0 holding 12 MiB of random data, and an empty out/ directory.
class ExportErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_ / "pw", "test passphrase\n");
    ASSERT_EQ(RunRpfs({"init", vault_, "--passphrase-file", dir_ / "pw"}).exit_code, 0);
    ASSERT_EQ(Run({"group", "create", "web"}).exit_code, 0);
    ASSERT_EQ(Run({"disk", "create", "vm/d0", "--size", "16M", "--group", "web"}).exit_code, 0);
    std::string data(12 << 20, '\0');
    uint64_t x = 88172645463325252ull;
    for (char& c : data) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    WriteFile(dir_ / "data", data);
    CliResult w = Run({"disk", "write", "vm/d0", dir_ / "data", "--offset", "1M"});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    std::filesystem::create_directory(out_dir_);
  }

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args);
  }

  TempDir dir_;
  std::string vault_ = dir_ / "vault";
  std::string out_dir_ = dir_ / "out";
};

TEST_F(ExportErrorsTest, UnknownFormat) {
  const std::string out = out_dir_ + "/d0.img";
  CliResult r = Run({"export", "vm/d0", out, "--format", "qcow2"});
  EXPECT_TRUE(IsOneLineError(r, 1, {"'qcow2'", "raw", "vmdk-flat", "vmdk-sparse", "vmdk-stream"}));
  EXPECT_TRUE(Listing(out_dir_).empty());
}

TEST_F(ExportErrorsTest, OutInAMissingDirectory) {
  for (const std::string& format : kFormats) {
    const std::string out = out_dir_ + "/nosuch/d0.vmdk";
    EXPECT_TRUE(IsOneLineError(Run({"export", "vm/d0", out, "--format", format}), 1,
                               {out_dir_ + "/nosuch/d0", "No such file or directory"}))
        << format;
  }
  EXPECT_TRUE(Listing(out_dir_).empty());
}

TEST_F(ExportErrorsTest, OutIsADirectory) {
  const std::string out = out_dir_ + "/d0.vmdk";
  std::filesystem::create_directory(out);
  for (const std::string& format : kFormats) {
    EXPECT_TRUE(IsOneLineError(Run({"export", "vm/d0", out, "--format", format}), 1,
                               {out, "directory"}))
        << format;
  }
  EXPECT_EQ(Listing(out_dir_), std::vector<std::string>{"d0.vmdk"});
  // vmdk-flat also refuses an extent path it cannot create, before writing anything.
  std::filesystem::remove(out);
  std::filesystem::create_directory(out_dir_ + "/d0-flat.vmdk");
  EXPECT_TRUE(IsOneLineError(Run({"export", "vm/d0", out, "--format", "vmdk-flat"}), 1,
                             {out_dir_ + "/d0-flat.vmdk", "directory"}));
  EXPECT_EQ(Listing(out_dir_), std::vector<std::string>{"d0-flat.vmdk"});
}

TEST_F(ExportErrorsTest, UnknownPoint) {
  for (const std::string& format : kFormats) {
    const std::string out = out_dir_ + "/d0.vmdk";
    EXPECT_TRUE(IsOneLineError(
        Run({"export", "vm/d0", out, "--format", format, "--point", "nosuch"}), 1, {"nosuch"}))
        << format;
    EXPECT_TRUE(IsOneLineError(
        Run({"export", "vm/d0", out, "--format", format, "--point", "#99999999"}), 1,
        {"99999999"}))
        << format;
  }
  EXPECT_TRUE(Listing(out_dir_).empty());
}

// A file-size limit (RLIMIT_FSIZE of 1 MiB, SIGXFSZ ignored so the write fails with EFBIG)
// stops every format partway: one line names the file, no OUT.tmp is left, and an OUT that
// existed before keeps its old bytes.
TEST_F(ExportErrorsTest, WriteFailureLeavesNothingBehind) {
  for (const std::string& format : kFormats) {
    SCOPED_TRACE(format);
    const std::string out = out_dir_ + "/d0.vmdk";
    WriteFile(out, "old image");
    std::string command = "trap '' XFSZ; exec prlimit --fsize=1048576 -- '" +
                          std::string(RPFS_BINARY) + "' --vault '" + vault_ + "' export vm/d0 '" +
                          out + "' --format " + format;
    CliResult r = RunProgram({"sh", "-c", command});
    EXPECT_TRUE(IsOneLineError(r, 3, {out_dir_ + "/d0", "File too large"}));
    EXPECT_EQ(ReadFile(out), "old image");
    EXPECT_EQ(Listing(out_dir_), std::vector<std::string>{"d0.vmdk"});
    std::filesystem::remove(out);
  }
}

TEST_F(ExportErrorsTest, HelpNamesTheFormats) {
  CliResult r = RunRpfs({"export", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* what : {"raw", "vmdk-flat", "monolithicFlat", "vmdk-sparse", "monolithicSparse",
                           "vmdk-stream", "streamOptimized", "-flat.vmdk"}) {
    EXPECT_NE(r.out.find(what), std::string::npos) << what << " not in:\n" << r.out;
  }
}

}  // namespace
}  // namespace rpfs::testing
