// The daemon's readahead for O_DIRECT handles (fs/read_ahead.h): which reads
// make a stream ask for a prefetch, and of what.
#include <gtest/gtest.h>

#include "fs/read_ahead.h"

namespace rpfs::fs {
namespace {

constexpr uint64_t kMiB = 1u << 20;
constexpr uint64_t kDisk = 1024 * kMiB;

TEST(ReadAheadStreamTest, AThirdReadInARowAsksForTheWindowAhead) {
  ReadAhead::Stream s;
  EXPECT_EQ(0u, s.Next(0, 65536, kDisk).length) << "one read is no pattern yet";
  EXPECT_EQ(0u, s.Next(65536, 65536, kDisk).length) << "nor are two";
  DiskRange r = s.Next(2 * 65536, 65536, kDisk);
  EXPECT_EQ(3 * 65536u, r.offset);
  EXPECT_EQ(ReadAhead::kMinWindow, r.length) << "8 requests of 64 KiB are less than the minimum";
}

TEST(ReadAheadStreamTest, AsksAgainOnlyWhenTheReaderIsWithinHalfAWindow) {
  ReadAhead::Stream s;
  const uint64_t n = 65536;
  s.Next(0, n, kDisk);
  s.Next(n, n, kDisk);
  DiskRange first = s.Next(2 * n, n, kDisk);
  uint64_t frontier = first.offset + first.length;
  int asked = 0;
  for (uint64_t off = 3 * n; off + n <= 64 * kMiB; off += n) {
    DiskRange r = s.Next(off, n, kDisk);
    if (r.length == 0) continue;
    ++asked;
    EXPECT_EQ(frontier, r.offset) << "each prefetch starts where the last one ended";
    EXPECT_LE(frontier, off + n + ReadAhead::kMinWindow / 2) << "asked too early, at " << off;
    frontier = r.offset + r.length;
    EXPECT_EQ(off + n + ReadAhead::kMinWindow, frontier);
  }
  // 64 MiB read in 4 MiB windows asked for when half used: about 2 MiB apart.
  EXPECT_GE(asked, 28);
  EXPECT_LE(asked, 32);
}

TEST(ReadAheadStreamTest, TheWindowGrowsWithTheRequestUpToTheMaximum) {
  ReadAhead::Stream s;
  s.Next(0, kMiB, kDisk);
  s.Next(kMiB, kMiB, kDisk);
  EXPECT_EQ(8 * kMiB, s.Next(2 * kMiB, kMiB, kDisk).length);
  ReadAhead::Stream big;
  big.Next(0, 4 * kMiB, kDisk);
  big.Next(4 * kMiB, 4 * kMiB, kDisk);
  EXPECT_EQ(ReadAhead::kMaxWindow, big.Next(8 * kMiB, 4 * kMiB, kDisk).length);
}

TEST(ReadAheadStreamTest, RandomReadsAskForNothing) {
  ReadAhead::Stream s;
  // Even with an occasional read that happens to land next to the last.
  const uint64_t offsets[] = {500 * kMiB, 3 * kMiB, 3 * kMiB + 4096, 900 * kMiB, 100 * kMiB,
                              100 * kMiB + 8192, 700 * kMiB, 0};
  for (uint64_t off : offsets) EXPECT_EQ(0u, s.Next(off, 4096, kDisk).length) << off;
}

TEST(ReadAheadStreamTest, AJumpStartsTheWatchOverAndReadsSlightlyOutOfOrderStillCount) {
  ReadAhead::Stream s;
  s.Next(0, 65536, kDisk);
  s.Next(65536, 65536, kDisk);
  EXPECT_GT(s.Next(2 * 65536, 65536, kDisk).length, 0u);
  EXPECT_EQ(0u, s.Next(512 * kMiB, 65536, kDisk).length) << "a jump";
  // Several requests in flight arrive out of order: still one stream.
  EXPECT_EQ(0u, s.Next(512 * kMiB + 2 * 65536, 65536, kDisk).length);
  EXPECT_GT(s.Next(512 * kMiB + 65536, 65536, kDisk).length, 0u);
  EXPECT_EQ(0u, s.Next(512 * kMiB + 3 * 65536, 65536, kDisk).length) << "already asked for";
}

TEST(ReadAheadStreamTest, NeverAsksPastTheDiskEnd) {
  ReadAhead::Stream s;
  const uint64_t disk = 3 * kMiB;
  s.Next(disk - 4 * 65536, 65536, disk);
  s.Next(disk - 3 * 65536, 65536, disk);
  DiskRange r = s.Next(disk - 2 * 65536, 65536, disk);
  EXPECT_EQ(disk - 65536, r.offset);
  EXPECT_EQ(65536u, r.length);
  EXPECT_EQ(0u, s.Next(disk - 65536, 65536, disk).length);
}

}  // namespace
}  // namespace rpfs::fs
