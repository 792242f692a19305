// Test helpers for FailbackTarget (tools/dr/failback_target.h): a target image
// made by qemu-img and qemu-io with a raw reference of the same contents
// beside it, writes applied to both, and the checks that the target is
// still what it should be: `qemu-img compare` identical to the reference,
// `qemu-img check` clean, fs::OpenImage (the import's hostile-input
// checks: no grain over metadata or another grain) reading it through, and
// both grain table copies agreeing.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/vmdk/image_reader.h"
#include "tests/test_support.h"
#include "tests/tools/vmdk_test_images.h"
#include "tools/dr/failback_target.h"

namespace rpfs::testing {

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
constexpr uint64_t kGrain = 64 * kKiB;  // qemu-img's default grain

// A write: `bytes` at `offset`; pseudo-random data from `seed`, zeros for 0.
struct Piece {
  uint64_t offset;
  size_t bytes;
  uint32_t seed;
};

inline std::string PieceData(const Piece& p) {
  std::string s(p.bytes, '\0');
  if (p.seed == 0) return s;
  uint64_t x = (uint64_t{p.seed} << 40) ^ (p.offset | 1);
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

// `count` 4 KiB blocks from offset, each its own write, as failback sends them.
inline std::vector<Piece> Blocks(uint64_t offset, size_t count, uint32_t seed) {
  std::vector<Piece> v;
  for (size_t i = 0; i < count; ++i) v.push_back({offset + i * 4 * kKiB, 4 * kKiB, seed});
  return v;
}

inline std::vector<Piece> Join(std::vector<std::vector<Piece>> parts) {
  std::vector<Piece> v;
  for (auto& p : parts) v.insert(v.end(), p.begin(), p.end());
  return v;
}

// A raw image of `size` bytes filled with qemu-io `writes`.
inline ::testing::AssertionResult MakeRaw(const std::string& path, uint64_t size,
                                          const std::vector<std::string>& writes) {
  ::testing::AssertionResult r =
      Ran({"qemu-img", "create", "-q", "-f", "raw", path, std::to_string(size)});
  if (!r || writes.empty()) return r;
  std::vector<std::string> io = {"qemu-io", "-f", "raw"};
  for (const auto& w : writes) io.insert(io.end(), {"-c", w});
  io.push_back(path);
  return Ran(io);
}

// The target (subformat "raw" or a VMDK subformat) and a raw reference,
// both of `size` bytes and filled with the same qemu-io `writes`.
inline ::testing::AssertionResult MakeTargetAndReference(const std::string& target,
                                                         const std::string& subformat,
                                                         uint64_t size,
                                                         const std::vector<std::string>& writes,
                                                         const std::string& ref) {
  ::testing::AssertionResult r = MakeRaw(ref, size, writes);
  if (!r) return r;
  return subformat == "raw" ? MakeRaw(target, size, writes)
                            : MakeVmdk(target, subformat, size, writes);
}

inline Status ApplyTo(tools::FailbackTarget& t, const std::vector<Piece>& pieces) {
  for (const Piece& p : pieces) {
    std::string data = PieceData(p);
    RPFS_RETURN_IF_ERROR(t.Write(p.offset, data.data(), data.size()));
  }
  return Status::OK();
}

inline void ApplyToReference(const std::string& ref, const std::vector<Piece>& pieces) {
  for (const Piece& p : pieces) StoreBytes(ref, p.offset, PieceData(p));
}

// n bytes of path at offset.
inline std::string ReadBytes(const std::string& path, uint64_t offset, size_t n) {
  std::string s(n, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ssize_t got = fd < 0 ? -1 : ::pread(fd, s.data(), n, static_cast<off_t>(offset));
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(got, static_cast<ssize_t>(n)) << path << " offset " << offset;
  return s;
}

inline uint64_t DataBytes(const std::vector<Piece>& pieces) {
  uint64_t n = 0;
  for (const Piece& p : pieces) n += p.bytes;
  return n;
}

// qemu-img compare says identical.
inline ::testing::AssertionResult SameAsReference(const std::string& ref,
                                                  const std::string& target, bool vmdk) {
  return Ran({"qemu-img", "compare", "-q", "-f", "raw", "-F", vmdk ? "vmdk" : "raw", ref, target});
}

// Every entry of the primary grain tables equals the redundant one.
inline ::testing::AssertionResult TableCopiesAgree(const std::string& path) {
  const SparseFields f = ReadSparseFields(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ::testing::AssertionFailure() << "cannot open " << path;
  auto read = [&](uint64_t at, size_t n) {
    std::vector<uint32_t> v(n / 4);  // little-endian host
    if (::pread(fd, v.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) v.clear();
    return v;
  };
  const size_t tables = f.gd_entries(), gt_bytes = size_t{f.gtes} * 4;
  const std::vector<uint32_t> gd = read(f.gd * 512, tables * 4);
  const std::vector<uint32_t> rgd = read(f.rgd * 512, tables * 4);
  ::testing::AssertionResult r = ::testing::AssertionSuccess();
  if (gd.size() != tables || rgd.size() != tables) {
    r = ::testing::AssertionFailure() << path << ": short grain directory";
  }
  for (size_t t = 0; r && t < tables; ++t) {
    const std::vector<uint32_t> gt = read(uint64_t{gd[t]} * 512, gt_bytes);
    const std::vector<uint32_t> rgt = read(uint64_t{rgd[t]} * 512, gt_bytes);
    for (size_t e = 0; r && e < f.gtes; ++e) {
      if (gt.size() != f.gtes || rgt.size() != f.gtes || gt[e] != rgt[e]) {
        r = ::testing::AssertionFailure()
            << path << ": grain table " << t << " entry " << e << " is "
            << (gt.empty() ? 0 : gt[e]) << ", redundant " << (rgt.empty() ? 0 : rgt[e]);
      }
    }
  }
  ::close(fd);
  return r;
}

// The import's reader accepts the file and reads every run.
inline ::testing::AssertionResult ImportReaderAccepts(const std::string& path) {
  std::unique_ptr<fs::ImageReader> r;
  Status s = fs::OpenImage(path, path, &r);
  for (bool end = false; s.ok() && !end;) {
    fs::ImageRun run;
    s = r->Next(&run, &end);
  }
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}

// A sparse target is intact and holds what ref holds.
inline ::testing::AssertionResult SparseMatches(const std::string& ref, const std::string& path) {
  ::testing::AssertionResult r = SameAsReference(ref, path, true);
  if (r) r = Ran({"qemu-img", "check", "-q", "-f", "vmdk", path});
  if (r) r = ImportReaderAccepts(path);
  if (r) r = TableCopiesAgree(path);
  return r;
}

}  // namespace rpfs::testing
