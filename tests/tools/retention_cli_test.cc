// Retention on the command line: `init --max-size`, `vault set`, `prune`
// and the figures `stat` shows (issue 6).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

class RetentionCli : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args);
  }
  TempDir dir_;
  std::string vault_ = dir_ / "v";
};

TEST_F(RetentionCli, CapPruneAndStatFigures) {
  ASSERT_EQ(0, RunRpfs({"init", vault_, "--max-size", "1G", "--segment-size", "1M"}).exit_code);
  ASSERT_EQ(0, Run({"group", "create", "g", "--retention", "1h"}).exit_code);
  ASSERT_EQ(0, Run({"disk", "create", "vm/d", "--size", "4M", "--group", "g"}).exit_code);
  {
    std::ofstream f(dir_ / "data", std::ios::binary);
    std::string block(4096, '\0');
    for (int i = 0; i < 1024; ++i) {
      for (size_t k = 0; k < block.size(); k += 8) block[k] = static_cast<char>(i * 31 + k);
      f << block;
    }
  }
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(0, Run({"disk", "write", "vm/d", dir_ / "data"}).exit_code);
  }
  CliResult r = Run({"prune", "--json"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  nlohmann::json p = nlohmann::json::parse(r.out);
  EXPECT_GT(p["garbage_bytes"].get<uint64_t>(), 0u) << r.out;  // two overwritten copies
  EXPECT_EQ(p["cap_cut"], "") << r.out;

  r = Run({"stat", "--json"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  nlohmann::json st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["max_size"].get<uint64_t>(), 1ull << 30);
  EXPECT_GE(st["vault_bytes"].get<uint64_t>(), st["live_bytes"].get<uint64_t>());
  EXPECT_GT(st["live_bytes"].get<uint64_t>(), 0u);
  ASSERT_EQ(st["groups"].size(), 1u);
  const auto& g = st["groups"][0];
  EXPECT_EQ(g["retention_promised_s"].get<uint64_t>(), 3600u);
  EXPECT_EQ(g["changed_bytes_in_window"].get<uint64_t>(), 3u * (4u << 20)) << g.dump();
  EXPECT_GT(g["change_rate_bytes_per_s"].get<uint64_t>(), 0u);
  EXPECT_GE(g["needed_bytes"].get<uint64_t>(), g["latest_bytes"].get<uint64_t>());
  EXPECT_FALSE(g["retention_shrunk"].get<bool>());
  r = Run({"stat"});
  EXPECT_NE(r.out.find("of a 1.0 GiB cap"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("retention: kept since"), std::string::npos) << r.out;

  r = Run({"vault", "set", "--max-size", "0"});
  EXPECT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(r.out.find("max size none"), std::string::npos) << r.out;
  r = Run({"vault", "set", "--max-size", "lots"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(r.err.find("--max-size"), std::string::npos) << r.err;
}

// Acceptance 4's "stat says so": a cap below what the 72-hour window needs.
TEST_F(RetentionCli, ACapThatBitesIsReportedByPruneStatAndJobs) {
  ASSERT_EQ(0, RunRpfs({"init", vault_, "--max-size", "8M", "--segment-size", "1M",
                        "--compression", "0"})
                   .exit_code);
  ASSERT_EQ(0, Run({"group", "create", "g"}).exit_code);
  ASSERT_EQ(0, Run({"disk", "create", "vm/d", "--size", "4M", "--group", "g"}).exit_code);
  for (int round = 0; round < 3; ++round) {
    {
      std::ofstream f(dir_ / "data", std::ios::binary | std::ios::trunc);
      std::string block(4096, '\0');
      for (int i = 0; i < 1024; ++i) {
        for (size_t k = 0; k < block.size(); ++k) {
          block[k] = static_cast<char>((i * 131 + k * 7 + round * 17) ^ (k >> 3));
        }
        f << block;
      }
    }
    ASSERT_EQ(0, Run({"disk", "write", "vm/d", dir_ / "data"}).exit_code);  // writes never fail
  }
  CliResult r = Run({"prune"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  EXPECT_NE(r.out.find("WARNING: the vault nears its size cap"), std::string::npos) << r.out;
  r = Run({"stat", "--json"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  nlohmann::json st = nlohmann::json::parse(r.out);
  EXPECT_TRUE(st["groups"][0]["retention_shrunk"].get<bool>()) << r.out;
  EXPECT_LE(st["vault_bytes"].get<uint64_t>(), 8u << 20) << r.out;
  r = Run({"stat"});
  EXPECT_NE(r.out.find("WARNING: the size cap shrank"), std::string::npos) << r.out;
  r = Run({"jobs"});
  EXPECT_NE(r.out.find("retention-shrink"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rpfs::testing
