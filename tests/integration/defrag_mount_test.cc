// Defragmentation through a mount (issue 22): a disk scattered by random
// writes through FUSE, `prune --defrag` forwarded to the daemon lays it out
// in block order (a second pass finds nothing scattered), and after a
// remount the live disk, a point and a raw export read back exactly what
// was written.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "tests/integration/mount_fixture.h"

namespace rpfs::testing {
namespace {

class DefragMountTest : public MountedVault {
 protected:
  static constexpr size_t kDisk = 64u << 20;
  static constexpr size_t kBs = 4096;

  // Fills the disk, then scatters it with random 4 KiB writes; returns what it holds.
  std::string WriteScattered(int random_writes) {
    std::string model(kDisk, '\0');
    std::mt19937_64 rng(22);
    for (char& c : model) c = static_cast<char>(rng());
    int fd = ::open(Flat().c_str(), O_WRONLY);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(static_cast<ssize_t>(kDisk), ::pwrite(fd, model.data(), kDisk, 0));
    std::string block(kBs, '\0');
    for (int i = 0; i < random_writes; ++i) {
      const uint64_t b = rng() % (kDisk / kBs);
      for (char& c : block) c = static_cast<char>(rng());
      EXPECT_EQ(static_cast<ssize_t>(kBs), ::pwrite(fd, block.data(), kBs, b * kBs));
      std::memcpy(model.data() + b * kBs, block.data(), kBs);
    }
    EXPECT_EQ(0, ::fsync(fd));
    ::close(fd);
    return model;
  }

  void ExpectReads(const std::string& path, const std::string& want, const std::string& what) {
    std::string got = ReadFile(path);
    ASSERT_EQ(want.size(), got.size()) << what;
    for (size_t b = 0; b < want.size(); b += kBs) {
      ASSERT_EQ(0, std::memcmp(want.data() + b, got.data() + b, kBs)) << what << ": block " << b / kBs;
    }
  }
};

TEST_F(DefragMountTest, PruneDefragLaysAScatteredDiskOutAndEveryViewReadsBack) {
  const std::string model = WriteScattered(6000);
  const std::string point = TakePoint("g");

  CliResult r = Rpfs({"prune", "--defrag", "--json"});
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(64u, j["defrag"]["extents"].get<uint64_t>()) << r.out;
  EXPECT_GE(j["defrag"]["fragmented_extents"].get<uint64_t>(), 60u) << r.out;
  EXPECT_EQ(j["defrag"]["fragmented_extents"], j["defrag"]["rewritten_extents"]) << r.out;
  EXPECT_GE(j["defrag"]["copied_bytes"].get<uint64_t>(), 60u * (1u << 20)) << r.out;
  EXPECT_EQ("", j["defrag"]["stopped"].get<std::string>()) << r.out;

  r = Rpfs({"prune", "--defrag"});
  EXPECT_NE(std::string::npos, r.out.find("defragmentation: 0 of 64 extents (1 MiB) with data were scattered"))
      << r.out;

  // The kernel's page cache of the mount goes with the remount.
  Unmount();
  Mount();
  ExpectReads(Flat(), model, "live disk");
  ExpectReads(Flat("points/" + point), model, "point " + point);
  const std::string out = dir_ / "export.raw";
  Rpfs({"export", "vm/d0", "--point", point, "--format", "raw", out});
  ExpectReads(out, model, "raw export");

  // Bad input names the option.
  CliResult bad = RunRpfs({"mount", vault_, mnt_, "--defrag-quiet", "soon"});
  EXPECT_EQ(1, bad.exit_code);
  EXPECT_NE(std::string::npos, bad.err.find("--defrag-quiet")) << bad.err;
}

// The daemon defragments by itself what was not written for --defrag-quiet.
TEST_F(DefragMountTest, TheDaemonLaysOutQuietExtentsInTheBackground) {
  Unmount();
  CliResult m = RunRpfs({"mount", vault_, mnt_, "--compact-every", "1s", "--defrag-quiet", "1s"});
  ASSERT_EQ(0, m.exit_code) << m.err;
  mounted_ = true;
  const std::string model = WriteScattered(6000);
  // A pass a second, each laying out what has been quiet for a second:
  // the vault grows by the disk's copy.
  auto vault_bytes = [&] {
    return nlohmann::json::parse(Rpfs({"stat", "--json"}).out)["vault_bytes"].get<uint64_t>();
  };
  const uint64_t before = vault_bytes();
  for (int i = 0; i < 200 && vault_bytes() < before + kDisk; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CliResult r = Rpfs({"prune", "--defrag", "--json"});
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(0u, j["defrag"]["fragmented_extents"].get<uint64_t>()) << r.out;
  EXPECT_EQ(0u, j["defrag"]["copied_bytes"].get<uint64_t>()) << r.out;
  Unmount();
  Mount();
  ExpectReads(Flat(), model, "live disk");
}

}  // namespace
}  // namespace rpfs::testing
