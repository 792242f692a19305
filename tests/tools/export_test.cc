// `rpfs export --format raw`: the image holds exactly the disk as of the named point, byte for
// byte against an in-test model, and stays sparse (holes cost neither space nor time).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// What a disk should read as: zeros, then every write applied in order. A value type, so a
// copy is the disk as of that moment.
class DiskModel {
 public:
  explicit DiskModel(uint64_t size) : size_(size) {}
  uint64_t size() const { return size_; }

  void Write(uint64_t offset, std::string data) { writes_.emplace_back(offset, std::move(data)); }

  // Bytes [offset, offset + n); n stays small, the model never materializes the whole disk.
  std::string Read(uint64_t offset, uint64_t n) const {
    std::string out(n, '\0');
    for (const auto& [at, data] : writes_) {
      uint64_t lo = std::max(offset, at), hi = std::min(offset + n, at + data.size());
      if (lo < hi) out.replace(lo - offset, hi - lo, data, lo - at, hi - lo);
    }
    return out;
  }

  // The written ranges that overlap [offset, offset + n).
  std::vector<std::pair<uint64_t, uint64_t>> Overlaps(uint64_t offset, uint64_t n) const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const auto& [at, data] : writes_) {
      uint64_t lo = std::max(offset, at), hi = std::min(offset + n, at + data.size());
      if (lo < hi) out.emplace_back(lo, hi);
    }
    return out;
  }

 private:
  uint64_t size_;
  std::vector<std::pair<uint64_t, std::string>> writes_;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Where two equal-length strings first differ, or npos.
size_t FirstDifference(const std::string& a, const std::string& b) {
  auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin());
  return ia == a.end() ? std::string::npos : static_cast<size_t>(ia - a.begin());
}

// Compares an image with the model. Walks the file's data extents (SEEK_DATA/SEEK_HOLE) so a
// 1 GiB image with 10 MiB of data is checked without reading the holes: a hole reads as zeros,
// so the model must be zero there.
::testing::AssertionResult ImageMatches(const std::string& path, const DiskModel& model) {
  uint64_t size = FileSize(path);
  if (size != model.size()) {
    return ::testing::AssertionFailure() << path << " is " << size << " bytes, want "
                                         << model.size();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ::testing::AssertionFailure() << "cannot open " << path;
  auto check_hole = [&](uint64_t from, uint64_t to) -> std::string {
    for (auto [lo, hi] : model.Overlaps(from, to - from)) {
      std::string want = model.Read(lo, hi - lo);
      size_t i = want.find_first_not_of('\0');
      if (i != std::string::npos) return "hole at " + std::to_string(lo + i) + " hides data";
    }
    return "";
  };
  auto check_data = [&](uint64_t from, uint64_t to) -> std::string {
    std::string got(static_cast<size_t>(std::min<uint64_t>(to - from, 4 * kMiB)), '\0');
    for (uint64_t pos = from; pos < to;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(to - pos, got.size()));
      if (::pread(fd, got.data(), n, static_cast<off_t>(pos)) != static_cast<ssize_t>(n)) {
        return "short read at " + std::to_string(pos);
      }
      std::string want = model.Read(pos, n);
      size_t i = FirstDifference(got.substr(0, n), want);
      if (i != std::string::npos) return "first difference at byte " + std::to_string(pos + i);
      pos += n;
    }
    return "";
  };
  std::string problem;
  uint64_t pos = 0;
  while (pos < size && problem.empty()) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    uint64_t data_at = data < 0 ? size : static_cast<uint64_t>(data);  // ENXIO: holes to EOF
    problem = check_hole(pos, data_at);
    if (!problem.empty() || data_at >= size) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    uint64_t hole_at = hole < 0 ? size : static_cast<uint64_t>(hole);
    problem = check_data(data_at, hole_at);
    pos = hole_at;
  }
  ::close(fd);
  if (!problem.empty()) return ::testing::AssertionFailure() << path << ": " << problem;
  return ::testing::AssertionSuccess();
}

// Now, UTC, RFC 3339 with milliseconds; with offset_min != 0, the same instant written in
// that zone ("+02:00").
std::string NowRfc3339(int offset_min = 0) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  time_t secs = static_cast<time_t>(ms / 1000 + offset_min * 60);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  std::string zone = "Z";
  if (offset_min != 0) {
    char z[16];
    int a = std::abs(offset_min);
    std::snprintf(z, sizeof z, "%c%02d:%02d", offset_min > 0 ? '+' : '-', a / 60, a % 60);
    zone = z;
  }
  return buf + zone;
}

// A vault with group "web"; writes go through `rpfs disk write` and into a model.
class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_ / "pw", "test passphrase\n");
    CliResult r = RunRpfs({"init", vault_, "--passphrase-file", dir_ / "pw"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_NO_FATAL_FAILURE(Ok({"group", "create", "web"}));
  }

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args);
  }
  void Ok(const std::vector<std::string>& args) {
    CliResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void CreateDisk(const std::string& disk, uint64_t size) {
    ASSERT_NO_FATAL_FAILURE(
        Ok({"disk", "create", disk, "--size", std::to_string(size), "--group", "web"}));
  }

  // Random bytes at offset, into the disk and the model.
  void WriteAt(const std::string& disk, DiskModel* model, uint64_t offset, size_t n) {
    std::string data = RandomBytes(rng_, n);
    std::string file = dir_ / ("chunk" + std::to_string(chunks_++));
    WriteFile(file, data);
    ASSERT_NO_FATAL_FAILURE(Ok({"disk", "write", disk, file, "--offset", std::to_string(offset)}));
    std::remove(file.c_str());
    model->Write(offset, std::move(data));
  }

  // Exports disk at point to a fresh file; returns its path.
  std::string Export(const std::string& disk, const std::string& point) {
    std::string out = dir_ / ("export" + std::to_string(exports_++) + ".raw");
    CliResult r = Run({"export", disk, out, "--format", "raw", "--point", point});
    EXPECT_EQ(r.exit_code, 0) << "export --point " << point << ": " << r.err;
    return out;
  }

  nlohmann::json Points() {
    CliResult r = Run({"point", "list", "web", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  uint64_t LastSeq() {
    CliResult r = Run({"stat", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out).at("last_seq").get<uint64_t>();
  }

  TempDir dir_;
  std::string vault_ = dir_ / "vault";
  std::mt19937_64 rng_{20261125};
  int chunks_ = 0;
  int exports_ = 0;
};

TEST_F(ExportTest, PointTakenBeforeLaterWrites) {
  const std::string disk = "vm/d0";
  DiskModel model(8 * kMiB);
  ASSERT_NO_FATAL_FAILURE(CreateDisk(disk, model.size()));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 0, 64 * kKiB));
  // Unaligned, across a block boundary: the partial blocks keep their neighbours.
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, kMiB + 123, 10000));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, model.size() - 4 * kKiB, 4 * kKiB));
  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web", "--label", "before"}));
  const DiskModel before = model;

  // Overwrite parts of every earlier write, and add more.
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 12 * kKiB, 8 * kKiB));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, kMiB, 4 * kKiB));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, model.size() - 100, 100));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 4 * kMiB, kMiB + 17));

  EXPECT_TRUE(ImageMatches(Export(disk, "before"), before));
  nlohmann::json points = Points();
  ASSERT_EQ(points.size(), 1u);
  std::string id = std::to_string(points[0].at("id").get<uint64_t>());
  EXPECT_TRUE(ImageMatches(Export(disk, id), before)) << "by id " << id;
  EXPECT_TRUE(ImageMatches(Export(disk, "latest"), model));

  // The default point is latest.
  std::string out = dir_ / "default.raw";
  ASSERT_NO_FATAL_FAILURE(Ok({"export", disk, out, "--format", "raw"}));
  EXPECT_TRUE(ImageMatches(out, model));
}

TEST_F(ExportTest, SparseGiBExportIsSmallAndFast) {
  const std::string disk = "vm/big";
  DiskModel model(kGiB);
  ASSERT_NO_FATAL_FAILURE(CreateDisk(disk, model.size()));
  // 10 MiB of data in four places, the last one ending at the end of the disk.
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 0, 2 * kMiB));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 100 * kMiB + 4 * kKiB, 3 * kMiB));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 512 * kMiB, 3 * kMiB));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, kGiB - 2 * kMiB, 2 * kMiB));

  std::string out = dir_ / "big.raw";
  auto start = std::chrono::steady_clock::now();
  CliResult r = Run({"export", disk, out, "--format", "raw"});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::printf("export of 1 GiB disk with 10 MiB of data: %.3f s\n", seconds);
  // Holes must cost nothing: well under a second per GiB of them, with slack for CI.
  EXPECT_LT(seconds, 1.5);

  struct stat st;
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  std::printf("apparent %llu bytes, allocated %llu bytes\n",
              static_cast<unsigned long long>(st.st_size),
              static_cast<unsigned long long>(allocated));
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kGiB);
  EXPECT_LE(allocated, 11 * kMiB) << "holes were written out";
  EXPECT_GE(allocated, 10 * kMiB) << "random data cannot take less room than itself";
  EXPECT_TRUE(ImageMatches(out, model));
}

TEST_F(ExportTest, PointSpecsSelectTheRightState) {
  const std::string disk = "vm/d0";
  DiskModel model(4 * kMiB);
  ASSERT_NO_FATAL_FAILURE(CreateDisk(disk, model.size()));
  const DiskModel empty = model;
  const uint64_t seq_empty = LastSeq();

  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 0, 256 * kKiB));
  const DiskModel a = model;
  const uint64_t seq_a = LastSeq();
  // The timeline has millisecond grain: keep clear of the writes on both sides.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string time_a = NowRfc3339();
  const std::string time_a_east = NowRfc3339(2 * 60);  // same state, another zone
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web", "--app"}));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 128 * kKiB, 256 * kKiB));
  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web", "--app"}));  // the newest app point
  const DiskModel ab = model;
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 2 * kMiB + 5, 300000));
  ASSERT_NO_FATAL_FAILURE(Ok({"point", "create", "web"}));
  const DiskModel abc = model;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string time_abc = NowRfc3339();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NO_FATAL_FAILURE(WriteAt(disk, &model, 64 * kKiB, 64 * kKiB));

  EXPECT_TRUE(ImageMatches(Export(disk, "latest-app"), ab)) << "latest-app";
  EXPECT_TRUE(ImageMatches(Export(disk, "latest-crash"), abc)) << "latest-crash";
  EXPECT_TRUE(ImageMatches(Export(disk, "latest"), model)) << "latest";
  EXPECT_TRUE(ImageMatches(Export(disk, "#" + std::to_string(seq_a)), a)) << "#" << seq_a;
  EXPECT_TRUE(ImageMatches(Export(disk, "#" + std::to_string(seq_empty)), empty))
      << "#" << seq_empty;
  EXPECT_TRUE(ImageMatches(Export(disk, "@" + time_a), a)) << "@" << time_a;
  EXPECT_TRUE(ImageMatches(Export(disk, "@" + time_a_east), a)) << "@" << time_a_east;
  EXPECT_TRUE(ImageMatches(Export(disk, "@" + time_abc), abc)) << "@" << time_abc;

  // The points themselves, by id, agree with what latest-app/latest-crash chose.
  nlohmann::json points = Points();
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].at("kind"), "app");
  EXPECT_EQ(points[1].at("kind"), "app");
  EXPECT_EQ(points[2].at("kind"), "crash");
  EXPECT_TRUE(ImageMatches(Export(disk, std::to_string(points[0].at("id").get<uint64_t>())), a));
  EXPECT_TRUE(ImageMatches(Export(disk, std::to_string(points[1].at("id").get<uint64_t>())), ab));
  EXPECT_TRUE(
      ImageMatches(Export(disk, std::to_string(points[2].at("id").get<uint64_t>())), abc));
}

}  // namespace
}  // namespace rpfs::testing
