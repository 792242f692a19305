// fs/image_reader: OpenImage reads every kind of image qemu-img writes (and VMware's
// streamOptimized layout with a footer) as the same bytes qemu-img converts it to, in runs that
// go up the disk, stay under kMaxRunBytes and skip holes and zero grains; several extents, ZERO
// and VMFS extents and FLAT offsets map where the descriptor says; a damaged primary grain
// directory falls back to the redundant one; a memory source reads like the file.
//
// qemu-img and qemu-io (Debian qemu-utils) are required: without them these tests fail.
#include "fs/vmdk/image_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/sparse_vmdk_reader.h"
#include "tests/test_support.h"
#include "tests/tools/vmdk_test_images.h"

namespace rpfs::testing {
namespace {

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;

struct ReadStats {
  uint64_t runs = 0;
  uint64_t bytes = 0;  // in runs
};

bool AllZero(const std::string& s) { return s.find_first_not_of('\0') == std::string::npos; }

// Drains `reader` and compares with `raw`, a raw image of the same disk: every run in order,
// inside the capacity, at most kMaxRunBytes, equal to raw's bytes; and raw is zero wherever
// no run went (found through raw's data extents, so holes cost nothing).
::testing::AssertionResult MatchesRaw(fs::ImageReader& reader, const std::string& raw,
                                      ReadStats* stats = nullptr) {
  ReadStats st;
  const uint64_t size = FileSize(raw);
  if (reader.capacity() != size) {
    return ::testing::AssertionFailure() << "capacity " << reader.capacity() << ", raw has "
                                         << size;
  }
  int fd = ::open(raw.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<std::pair<uint64_t, uint64_t>> covered;
  std::string want;
  for (;;) {
    fs::ImageRun run;
    bool end = false;
    Status s = reader.Next(&run, &end);
    if (!s.ok()) return ::testing::AssertionFailure() << s.ToString();
    if (end) break;
    if (run.size == 0 || run.size > fs::kMaxRunBytes) {
      return ::testing::AssertionFailure() << "run of " << run.size << " bytes";
    }
    if ((!covered.empty() && run.offset < covered.back().second) || run.offset > size ||
        run.size > size - run.offset) {
      return ::testing::AssertionFailure() << "run at " << run.offset << " out of order or range";
    }
    want.resize(run.size);
    if (::pread(fd, want.data(), run.size, static_cast<off_t>(run.offset)) !=
        static_cast<ssize_t>(run.size)) {
      return ::testing::AssertionFailure() << "short read of " << raw;
    }
    if (std::memcmp(want.data(), run.data, run.size) != 0) {
      return ::testing::AssertionFailure() << "run at " << run.offset << " differs from " << raw;
    }
    if (!covered.empty() && covered.back().second == run.offset) {
      covered.back().second += run.size;
    } else {
      covered.emplace_back(run.offset, run.offset + run.size);
    }
    st.runs++;
    st.bytes += run.size;
  }
  // Outside the runs raw must read as zeros.
  size_t c = 0;
  uint64_t pos = 0;
  while (pos < size) {
    off_t d = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (d < 0) break;
    off_t h = ::lseek(fd, d, SEEK_HOLE);
    for (uint64_t at = static_cast<uint64_t>(d); at < static_cast<uint64_t>(h);) {
      while (c < covered.size() && covered[c].second <= at) ++c;
      uint64_t next = static_cast<uint64_t>(h);
      if (c < covered.size() && covered[c].first <= at) {
        at = std::min(next, covered[c].second);
        continue;
      }
      if (c < covered.size()) next = std::min(next, covered[c].first);
      uint64_t n = std::min<uint64_t>(next - at, 4 * kMiB);
      std::string got(n, '\0');
      if (::pread(fd, got.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n) ||
          !AllZero(got)) {
        return ::testing::AssertionFailure() << raw << " holds data at " << at
                                             << " that no run delivered";
      }
      at += n;
    }
    pos = static_cast<uint64_t>(h);
  }
  ::close(fd);
  if (stats) *stats = st;
  return ::testing::AssertionSuccess();
}

std::unique_ptr<fs::ImageReader> Open(const std::string& path) {
  std::unique_ptr<fs::ImageReader> r;
  Status s = fs::OpenImage(path, path, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r;
}

// The raw bytes qemu-img reads from image.
std::string RawOf(const std::string& image) {
  std::string raw = image + ".raw";
  EXPECT_TRUE(Ran({"qemu-img", "convert", "-O", "raw", image, raw}));
  return raw;
}

const std::vector<std::string> kWrites = {
    "write -P 0x11 0 1M",        "write -P 0x22 1000 5000",      "write -P 0x33 3M 5k",
    "write -P 0x44 8M 2M",       "write -z 8M 2M",               "write -P 0x55 9M 4k",
    "write -P 0x66 20M 64k",     "write -P 0x77 31M 1M",         "write -z 24M 1M",
    "write -P 0x88 63M 1M",      "write -P 0x99 67108352 512"};  // 64M-512

TEST(ImageReader, ReadsEverySubformatAsQemuDoes) {
  TempDir dir;
  for (const std::string sf : {"monolithicFlat", "twoGbMaxExtentFlat", "monolithicSparse",
                               "twoGbMaxExtentSparse", "streamOptimized"}) {
    SCOPED_TRACE(sf);
    std::string img = dir / (sf + ".vmdk");
    ASSERT_TRUE(MakeVmdk(img, sf, 64 * kMiB, kWrites, sf == "monolithicSparse"));
    auto r = Open(img);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format(), sf);
    ReadStats st;
    EXPECT_TRUE(MatchesRaw(*r, RawOf(img), &st));
    EXPECT_GT(st.runs, 3u);
    if (sf == "monolithicSparse") {
      // zeroed_grain=on: the zeroed 2 MiB and 1 MiB are zero grains, not data.
      EXPECT_LE(st.bytes, 5 * kMiB + 64 * kKiB * 4);
    }
  }
}

TEST(ImageReader, ReadsRawImagesSkippingHoles) {
  TempDir dir;
  std::string img = dir / "r.raw";
  ASSERT_TRUE(Ran({"qemu-img", "create", "-q", "-f", "raw", img, "1G"}));
  ASSERT_TRUE(Ran({"qemu-io", "-f", "raw", "-c", "write -P 0x5a 100M 3M", "-c",
                   "write -P 0xa5 1073740824 1000", img}));  // 1G-1000
  auto r = Open(img);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->format(), "raw");
  ReadStats st;
  EXPECT_TRUE(MatchesRaw(*r, img, &st));
  EXPECT_LT(st.bytes, 16 * kMiB) << "holes were read";
}

// Data regions closer together than kMaxRunBytes: each run stops where
// its region's hole starts (SEEK_HOLE), instead of reading on through it.
TEST(ImageReader, RawRunsEndWhereTheHoleAfterThemStarts) {
  TempDir dir;
  std::string img = dir / "alternating.raw";
  ASSERT_TRUE(Ran({"qemu-img", "create", "-q", "-f", "raw", img, "32M"}));
  std::vector<std::string> args = {"qemu-io", "-f", "raw"};
  for (int i = 0; i < 16; ++i) {  // data in MiB 0, 2, 4, ...; a 1 MiB hole after each
    args.push_back("-c");
    args.push_back("write -P " + std::to_string(i + 1) + " " + std::to_string(2 * i) + "M 1M");
  }
  args.push_back(img);
  ASSERT_TRUE(Ran(args));
  auto r = Open(img);
  ASSERT_TRUE(r);
  ReadStats st;
  EXPECT_TRUE(MatchesRaw(*r, img, &st));
  EXPECT_EQ(st.bytes, 16 * kMiB) << "runs went into the holes between the data";
  EXPECT_EQ(st.runs, 16u);
}

// A raw image, and a monolithicFlat one through its descriptor, read runs straight into the
// room offered for each (cut to its size), and those runs are the image's bytes.
TEST(ImageReader, FlatRunsGoIntoTheRoomOffered) {
  TempDir dir;
  const std::vector<std::string> writes = {"write -P 0x21 0 3M", "write -P 0x43 5M 1M",
                                           "write -P 0x65 7M 64k"};
  std::string raw = dir / "r.raw", flat = dir / "f.vmdk";
  ASSERT_TRUE(Ran({"qemu-img", "create", "-q", "-f", "raw", raw, "8M"}));
  std::vector<std::string> io = {"qemu-io", "-f", "raw"};
  for (const std::string& w : writes) io.insert(io.end(), {"-c", w});
  io.push_back(raw);
  ASSERT_TRUE(Ran(io));
  ASSERT_TRUE(MakeVmdk(flat, "monolithicFlat", 8 * kMiB, writes));
  for (const std::string& img : {raw, flat}) {
    SCOPED_TRACE(img);
    auto r = Open(img);
    ASSERT_TRUE(r);
    const std::string bytes = ReadFile(raw);
    std::vector<char> room(192 * kKiB);
    uint64_t read = 0;
    for (;;) {
      r->OfferRoom(room.data(), room.size());
      fs::ImageRun run;
      bool end = false;
      ASSERT_TRUE(r->Next(&run, &end).ok());
      if (end) break;
      EXPECT_EQ(run.data, room.data());
      ASSERT_LE(run.size, room.size());
      EXPECT_EQ(0, std::memcmp(run.data, bytes.data() + run.offset, run.size))
          << "run at " << run.offset;
      read += run.size;
    }
    EXPECT_EQ(read, 4 * kMiB + 64 * kKiB);
  }
}

TEST(ImageReader, ReadsVmwareStreamLayoutWithFooter) {
  TempDir dir;
  std::string qemu = dir / "q.vmdk", vmware = dir / "v.vmdk";
  ASSERT_TRUE(MakeVmdk(qemu, "streamOptimized", 64 * kMiB, kWrites));
  ASSERT_NO_FATAL_FAILURE(ConvertToFooterStream(qemu, vmware));
  EXPECT_EQ(LoadLE(vmware, 56, 8), ~uint64_t{0});
  auto r = Open(vmware);
  ASSERT_TRUE(r);
  // qemu reads the footer too: both must agree with the original.
  EXPECT_TRUE(MatchesRaw(*r, RawOf(qemu)));
  EXPECT_TRUE(Ran({"qemu-img", "compare", "-f", "vmdk", "-F", "vmdk", qemu, vmware}));
}

TEST(ImageReader, ReadsSeveralExtentsAcrossTheirBoundaries) {
  TempDir dir;
  // 4.5 GiB: three 2 GiB-max extents, data straddling both boundaries (2G-64k, 4G-512) and
  // at the end (4608M-4k).
  const std::vector<std::string> writes = {"write -P 0x11 2147418112 128k",
                                           "write -P 0x22 4294966784 1k",
                                           "write -P 0x33 4831834112 4k", "write -P 0x44 0 4k"};
  for (const std::string sf : {"twoGbMaxExtentFlat", "twoGbMaxExtentSparse"}) {
    SCOPED_TRACE(sf);
    std::string img = dir / (sf + ".vmdk");
    ASSERT_TRUE(MakeVmdk(img, sf, 4608 * kMiB, writes));
    auto r = Open(img);
    ASSERT_TRUE(r);
    ReadStats st;
    EXPECT_TRUE(MatchesRaw(*r, RawOf(img), &st));
    EXPECT_LT(st.bytes, 32 * kMiB);
  }
}

TEST(ImageReader, MapsZeroVmfsAndOffsetFlatExtents) {
  TempDir dir;
  // a.bin: 1 MiB of 0x61 after a 64 KiB prefix the FLAT offset skips; b.bin: 512 KiB of 0x62.
  WriteFile(dir / "a.bin", std::string(64 * kKiB, 'x') + std::string(kMiB, 'a'));
  WriteFile(dir / "b.bin", std::string(512 * kKiB, 'b'));
  WriteFile(dir / "d.vmdk",
            "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"custom\"\n"
            "RW 2048 FLAT \"a.bin\" 128\n"
            "RW 4096 ZERO\n"
            "RDONLY 1024 VMFS \"" + dir / "b.bin" + "\"\n");
  std::string raw = std::string(kMiB, 'a') + std::string(2 * kMiB, '\0') +
                    std::string(512 * kKiB, 'b');
  WriteFile(dir / "want.raw", raw);
  auto r = Open(dir / "d.vmdk");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->format(), "custom");
  EXPECT_TRUE(MatchesRaw(*r, dir / "want.raw"));
}

TEST(ImageReader, FallsBackToTheRedundantGrainDirectory) {
  TempDir dir;
  std::string img = dir / "s.vmdk";
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 64 * kMiB, kWrites));
  std::string raw = RawOf(img);
  SparseFields f = ReadSparseFields(img);
  ASSERT_TRUE(f.flags & 2) << "qemu-img writes a redundant directory";

  // 1. The primary directory's offset points past the end of the file.
  std::string bad_gd = dir / "bad_gd.vmdk";
  WriteFile(bad_gd, ReadFile(img));
  StoreLE(bad_gd, 56, 1u << 30, 8);
  // 2. A primary grain table entry points into the header.
  std::string bad_gte = dir / "bad_gte.vmdk";
  WriteFile(bad_gte, ReadFile(img));
  StoreLE(bad_gte, GteAt(bad_gte, f, false, 0, 0), 0, 4);
  StoreLE(bad_gte, GteAt(bad_gte, f, false, 0, 5), 1, 4);
  for (const std::string& path : {bad_gd, bad_gte}) {
    SCOPED_TRACE(path);
    std::unique_ptr<fs::SparseVmdkReader> r;
    std::unique_ptr<fs::ByteSource> src;
    ASSERT_TRUE(fs::OpenFileSource(path, path, &src).ok());
    Status s = fs::SparseVmdkReader::Open(std::move(src), &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(r->reads_redundant_directory());
    EXPECT_TRUE(MatchesRaw(*r, raw));
  }
}

TEST(ImageReader, MemorySourceReadsLikeTheFile) {
  TempDir dir;
  for (const std::string sf : {"monolithicSparse", "streamOptimized"}) {
    std::string img = dir / (sf + ".vmdk");
    ASSERT_TRUE(MakeVmdk(img, sf, 16 * kMiB, {"write -P 0x12 0 3M", "write -P 0x34 15M 1M"}));
    std::string bytes = ReadFile(img);
    std::unique_ptr<fs::SparseVmdkReader> r;
    Status s = fs::SparseVmdkReader::Open(fs::NewMemorySource("mem", bytes), &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_FALSE(r->reads_redundant_directory());
    EXPECT_TRUE(MatchesRaw(*r, RawOf(img)));
  }
}

TEST(ImageReader, ReadsTheHandMadeFuzzSeedsAsQemuDoes) {
  // tests/fuzz/seeds/sparse: one-sector grains, zeroed-grain entries, an embedded descriptor,
  // a VMware-layout stream; the fuzz run starts from them, so they must be valid.
  std::string here = __FILE__;
  std::string seeds = here.substr(0, here.rfind("/fs/")) + "/fuzz/seeds/sparse/";
  TempDir dir;
  for (const std::string name : {"tiny-sparse.vmdk", "tiny-stream.vmdk"}) {
    SCOPED_TRACE(name);
    std::string copy = dir / name;
    WriteFile(copy, ReadFile(seeds + name));
    ASSERT_GT(FileSize(copy), 0u);
    auto r = Open(copy);
    ASSERT_TRUE(r);
    ReadStats st;
    EXPECT_TRUE(MatchesRaw(*r, RawOf(copy), &st));
    EXPECT_EQ(st.bytes, 5 * 512u);
  }
}

}  // namespace
}  // namespace rpfs::testing
