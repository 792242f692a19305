// Vault::Prefetch (catalog/vault_prefetch.cc): the records of the asked
// range of a view are brought into the page cache (checked with mincore on
// the segment files, evicted first), and nothing much else is; zero and
// never-written blocks ask for nothing; a point's range brings the point's
// versions; bad ranges are refused as Read refuses them.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kMiB = 1u << 20;
constexpr uint64_t kDisk = 32 * kMiB;

// Page-cache residency of one segment file, a flag per page.
std::vector<bool> Residency(const std::string& path) {
  std::vector<bool> out;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (size > 0) {
    void* map = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      std::vector<unsigned char> vec((static_cast<size_t>(size) + page - 1) / page);
      if (::mincore(map, static_cast<size_t>(size), vec.data()) == 0) {
        for (unsigned char c : vec) out.push_back(c & 1);
      }
      ::munmap(map, static_cast<size_t>(size));
    }
  }
  ::close(fd);
  return out;
}

class VaultPrefetch : public ::testing::Test {
 protected:
  void SetUp() override {
    VaultOptions vo;
    vo.max_segment_bytes = 16 << 20;
    vo.compression_level = 0;
    ASSERT_TRUE(Vault::Create(dir_ / "v", vo, OpenOptions{}, &v_).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v_->CreateGroup(g).ok());
    ASSERT_TRUE(v_->CreateDisk("vm/d", kDisk, "g", &disk_).ok());
  }
  void WriteRandom(uint64_t offset, uint64_t n, uint64_t seed) {
    std::string data(n, '\0');
    std::mt19937_64 rng(seed);
    for (char& c : data) c = static_cast<char>(rng());
    ASSERT_TRUE(v_->Write(disk_.id, offset, data.data(), n).ok());
  }
  // Syncs and evicts every segment file from the page cache.
  void Evict() {
    ASSERT_TRUE(v_->Sync().ok());
    for (uint32_t seg : v_->journal().Segments()) {
      int fd = ::open(v_->journal().SegmentPath(seg).c_str(), O_RDONLY);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(0, ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
      ::close(fd);
    }
  }
  // Pages of the records of [offset, offset + n) of view, and how many of
  // them, and of all segment pages, are resident.
  struct Count {
    size_t wanted = 0, wanted_resident = 0, resident = 0;
  };
  Count Residents(View view, uint64_t offset, uint64_t n) {
    std::map<uint32_t, std::vector<bool>> res;
    Count c;
    for (uint32_t seg : v_->journal().Segments()) {
      res[seg] = Residency(v_->journal().SegmentPath(seg));
      for (bool r : res[seg]) c.resident += r;
    }
    EXPECT_TRUE(v_->FlushIndex().ok());
    EXPECT_TRUE(v_->catalog()
                    .blocks()
                    .Scan(disk_.id, v_->ChainFor(view), offset / kBs, (offset + n) / kBs,
                          [&](uint64_t, const FoundBlock& f) -> Status {
                            if (f.version.flags & journal::kZero) return Status::OK();
                            const auto& loc = f.version.loc;
                            for (uint64_t p = loc.offset / 4096; p <= (loc.offset + loc.size - 1) / 4096; ++p) {
                              ++c.wanted;
                              const auto& r = res[loc.segment];
                              c.wanted_resident += p < r.size() && r[p];
                            }
                            return Status::OK();
                          })
                    .ok());
    return c;
  }
  // Prefetches and waits (the kernel reads in the background) until the
  // records are resident or 10 s pass.
  Count PrefetchAndWait(View view, uint64_t offset, uint64_t n, uint64_t* bytes) {
    EXPECT_TRUE(v_->Prefetch(disk_.id, view, offset, n, bytes).ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    Count c;
    do {
      c = Residents(view, offset, n);
      if (c.wanted_resident == c.wanted) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return c;
  }

  rpfs::testing::TempDir dir_;
  std::unique_ptr<Vault> v_;
  Disk disk_;
};

TEST_F(VaultPrefetch, BringsTheRecordsOfTheRangeIntoThePageCacheAndLittleElse) {
  WriteRandom(0, kDisk, 1);
  Evict();
  Count before = Residents(v_->Latest(disk_), 8 * kMiB, 4 * kMiB);
  ASSERT_GT(before.wanted, 1000u);
  ASSERT_LT(before.wanted_resident, before.wanted / 10) << "the kernel kept the segments cached";
  uint64_t bytes = 0;
  Count after = PrefetchAndWait(v_->Latest(disk_), 8 * kMiB, 4 * kMiB, &bytes);
  EXPECT_EQ(after.wanted, after.wanted_resident);
  // One run of 1024 records of 4144 bytes.
  EXPECT_EQ(1024u * (kBs + journal::kRecordHeaderSize), bytes);
  // Readahead of 4 MiB, not of the whole 32 MiB disk.
  EXPECT_LT(after.resident, after.wanted + 2 * 256) << "pages resident: " << after.resident;
}

TEST_F(VaultPrefetch, ScatteredRecordsOfARangeAllCome) {
  WriteRandom(0, kDisk, 1);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) WriteRandom((rng() % (kDisk / kBs)) * kBs, kBs, i + 100);
  Evict();
  uint64_t bytes = 0;
  Count c = PrefetchAndWait(v_->Latest(disk_), 0, 8 * kMiB, &bytes);
  EXPECT_EQ(c.wanted, c.wanted_resident);
  EXPECT_GE(bytes, 2048u * (kBs + journal::kRecordHeaderSize));
}

TEST_F(VaultPrefetch, APointsRangeBringsThePointsVersions) {
  WriteRandom(0, 8 * kMiB, 1);
  Point p;
  ASSERT_TRUE(v_->CreatePoint("g", "crash", "", &p).ok());
  WriteRandom(0, 8 * kMiB, 2);  // the latest view no longer shares them
  Evict();
  uint64_t bytes = 0;
  Count c = PrefetchAndWait(View{p.branch, p.seq}, 0, 4 * kMiB, &bytes);
  EXPECT_EQ(c.wanted, c.wanted_resident);
  EXPECT_GT(c.wanted, 1000u);
  Count latest = Residents(v_->Latest(disk_), 0, 4 * kMiB);
  EXPECT_LT(latest.wanted_resident, latest.wanted / 10) << "the latest view's records came too";
}

TEST_F(VaultPrefetch, ZeroAndUnwrittenBlocksAskForNothing) {
  std::string zeros(4 * kMiB, '\0');
  ASSERT_TRUE(v_->Write(disk_.id, 0, zeros.data(), zeros.size()).ok());
  uint64_t bytes = 1;
  ASSERT_TRUE(v_->Prefetch(disk_.id, v_->Latest(disk_), 0, 16 * kMiB, &bytes).ok());
  EXPECT_EQ(0u, bytes);
}

TEST_F(VaultPrefetch, BadRangesAreRefusedAsReadRefusesThem) {
  uint64_t bytes;
  EXPECT_EQ(Status::Code::kInvalidArgument,
            v_->Prefetch(disk_.id, v_->Latest(disk_), kDisk - kBs, 2 * kBs, &bytes).code());
  EXPECT_EQ(Status::Code::kNotFound, v_->Prefetch(999, v_->Latest(disk_), 0, kBs, &bytes).code());
  EXPECT_EQ(Status::Code::kNotFound, v_->Prefetch(disk_.id, View{77, kMaxSeq}, 0, kBs, &bytes).code());
}

}  // namespace
}  // namespace rpfs::catalog
