// FailbackTarget (tools/dr/failback_target.h) on images made by qemu-img and
// qemu-io: writes land in place in raw, monolithicFlat and monolithicSparse
// images (allocated grains overwritten where they lie; unallocated ones
// appended once, partial or whole; zeros into unallocated grains not
// written; grain table entries of a run written together, redundant copy
// first), each result `qemu-img compare`d against a raw reference written
// alongside and, sparse, `qemu-img check`ed; out-of-range writes and the
// formats it cannot update in place are refused with one line naming the
// file, and nothing is written. Crash and rerun: failback_target_crash_test.cc.
//
// qemu-img and qemu-io (Debian qemu-utils) are required: without them these tests fail.
#include "tools/dr/failback_target.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"
#include "tests/tools/failback_target_images.h"
#include "tools/dr/sparse_vmdk_patcher.h"

namespace rpfs::testing {
namespace {

using tools::FailbackTarget;

#define ASSERT_OK(expr)                           \
  do {                                            \
    ::rpfs::Status _s = (expr);                   \
    ASSERT_TRUE(_s.ok()) << _s.ToString();        \
  } while (0)

std::unique_ptr<FailbackTarget> OpenOk(const std::string& path) {
  std::unique_ptr<FailbackTarget> t;
  Status s = FailbackTarget::Open(path, &t);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return t;
}

// The whole disk read through t, in 1 MiB reads, equals ref.
::testing::AssertionResult ReadsAsReference(FailbackTarget& t, const std::string& ref) {
  const std::string want = ReadFile(ref);
  if (want.size() != t.size()) {
    return ::testing::AssertionFailure() << "size " << t.size() << ", reference " << want.size();
  }
  std::string got(want.size(), '\0');
  for (uint64_t at = 0; at < got.size(); at += kMiB) {
    Status s = t.Read(at, std::min<uint64_t>(kMiB, got.size() - at), got.data() + at);
    if (!s.ok()) return ::testing::AssertionFailure() << s.ToString();
  }
  auto diff = std::mismatch(got.begin(), got.end(), want.begin());
  if (diff.first == got.end()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "first difference at offset "
                                       << (diff.first - got.begin());
}

// Writes that hit the first and last block, a coalesced 1 MiB run, and
// zeros over data; for images whose first 2 MiB hold data.
std::vector<Piece> InPlaceWrites(uint64_t size) {
  return Join({Blocks(0, 1, 1), {{kMiB, kMiB, 2}}, {{512 * kKiB, 8 * kKiB, 0}},
               Blocks(72 * kKiB, 3, 4), Blocks(size - 4 * kKiB, 1, 3)});
}

TEST(FailbackTargetTest, RawImageIsWrittenInPlace) {
  TempDir dir;
  const std::string img = dir / "disk.raw", ref = dir / "ref.raw";
  const uint64_t size = 4 * kMiB;
  ASSERT_TRUE(MakeTargetAndReference(img, "raw", size, {"write -P 0x11 0 2M"}, ref));
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->format(), "raw");
  EXPECT_EQ(t->size(), size);
  const auto writes = InPlaceWrites(size);
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  ApplyToReference(ref, writes);
  EXPECT_EQ(t->data_bytes_written(), DataBytes(writes));
  EXPECT_EQ(t->metadata_bytes_written(), 0u);
  EXPECT_EQ(FileSize(img), size);
  EXPECT_TRUE(ReadsAsReference(*t, ref));
  EXPECT_TRUE(SameAsReference(ref, img, false));
}

TEST(FailbackTargetTest, FlatVmdkIsWrittenInItsExtent) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  const uint64_t size = 4 * kMiB;
  ASSERT_TRUE(MakeTargetAndReference(img, "monolithicFlat", size, {"write -P 0x11 0 2M"}, ref));
  const std::string descriptor = ReadFile(img);
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->format(), "vmdk-flat");
  EXPECT_EQ(t->size(), size);
  const auto writes = InPlaceWrites(size);
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  ApplyToReference(ref, writes);
  EXPECT_EQ(t->data_bytes_written(), DataBytes(writes));
  EXPECT_EQ(t->metadata_bytes_written(), 0u);
  EXPECT_EQ(ReadFile(img), descriptor);
  EXPECT_EQ(FileSize(dir / "disk-flat.vmdk"), size);
  EXPECT_TRUE(ReadsAsReference(*t, ref));
  EXPECT_TRUE(SameAsReference(ref, img, true));
}

TEST(FailbackTargetTest, SparseAllocatedGrainsAreOverwrittenWhereTheyLie) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  const uint64_t size = 8 * kMiB;
  ASSERT_TRUE(MakeTargetAndReference(img, "monolithicSparse", size,
                                     {"write -P 0x11 0 2M", "write -P 0x22 8128k 64k"}, ref));
  const uint64_t file_size = FileSize(img);
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->format(), "vmdk-sparse");
  EXPECT_EQ(t->size(), size);
  const auto writes = InPlaceWrites(size);  // every one into an allocated grain
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  ApplyToReference(ref, writes);
  EXPECT_EQ(t->data_bytes_written(), DataBytes(writes));
  EXPECT_EQ(t->metadata_bytes_written(), 0u);
  EXPECT_EQ(FileSize(img), file_size);
  EXPECT_TRUE(ReadsAsReference(*t, ref));
  t.reset();
  EXPECT_TRUE(SparseMatches(ref, img));
}

TEST(FailbackTargetTest, SparseUnallocatedGrainsGetOneNewGrainEach) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  const uint64_t size = 40 * kMiB;  // two grain tables (32 MiB each)
  ASSERT_TRUE(MakeTargetAndReference(img, "monolithicSparse", size, {"write -P 0x11 0 64k"}, ref));
  const uint64_t file_size = FileSize(img);
  ASSERT_EQ(file_size % kGrain, 0u);
  auto t = OpenOk(img);
  ASSERT_TRUE(t);

  // Zeros into unallocated grains: nothing is written.
  const std::vector<Piece> zeros =
      Join({{{5 * kMiB, kGrain, 0}}, Blocks(5 * kMiB + 128 * kKiB, 1, 0)});
  ASSERT_OK(ApplyTo(*t, zeros));
  EXPECT_EQ(t->data_bytes_written(), 0u);
  EXPECT_EQ(FileSize(img), file_size);

  const std::vector<Piece> writes = Join({
      Blocks(2 * kMiB + 12 * kKiB, 1, 1),           // one block of a grain
      Blocks(3 * kMiB, 2, 2),                       // several blocks of one grain,
      Blocks(3 * kMiB + 32 * kKiB, 1, 3),           //   not contiguous
      Blocks(3 * kMiB + 60 * kKiB, 1, 4),
      {{4 * kMiB, kGrain, 5}},                      // a whole grain
      {{6 * kMiB, kMiB, 6}},                        // 16 grains in one write
      Blocks(36 * kMiB + 4 * kKiB, 1, 7),           // the second grain table
  });
  const uint64_t new_grains = 1 + 1 + 1 + 16 + 1;
  ASSERT_OK(ApplyTo(*t, writes));
  ApplyToReference(ref, Join({zeros, writes}));
  EXPECT_EQ(t->data_bytes_written(), DataBytes(writes));
  EXPECT_EQ(FileSize(img), file_size + new_grains * kGrain);
  EXPECT_EQ(t->metadata_bytes_written(), 0u) << "entries are written by Sync";
  EXPECT_TRUE(ReadsAsReference(*t, ref)) << "before Sync";
  ASSERT_OK(t->Sync());
  EXPECT_EQ(t->metadata_bytes_written(), new_grains * 4 * 2);
  t.reset();
  EXPECT_EQ(FileSize(img), file_size + new_grains * kGrain);
  EXPECT_TRUE(SparseMatches(ref, img));
  auto again = OpenOk(img);
  ASSERT_TRUE(again);
  EXPECT_TRUE(ReadsAsReference(*again, ref)) << "reopened";
}

TEST(FailbackTargetTest, SparseTableEntriesOfARunAreWrittenTogetherRedundantFirst) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  ASSERT_TRUE(MakeTargetAndReference(img, "monolithicSparse", 40 * kMiB, {}, ref));
  const uint64_t file_size = FileSize(img);
  std::vector<std::string> calls;
  tools::SetFailbackTargetHookForTesting([&](std::string_view what) { calls.emplace_back(what); });
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  // 32 grains sent as 512 blocks, then 4 grains across the tables' border.
  const auto writes = Join({Blocks(kMiB, 512, 1), Blocks(32 * kMiB - 2 * kGrain, 64, 2)});
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  tools::SetFailbackTargetHookForTesting(nullptr);
  ApplyToReference(ref, writes);

  auto count = [&](const std::string& prefix) {
    return std::count_if(calls.begin(), calls.end(),
                         [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
  };
  EXPECT_EQ(count("data"), 576);
  EXPECT_EQ(count("new grain"), 36);
  // One write per run of adjacent entries in a table: grains 16-47 and
  // 510-511 of table 0, 512-513 (table 1).
  EXPECT_EQ(count("redundant grain table"), 3);
  EXPECT_EQ(count("grain table"), 3);
  EXPECT_EQ(t->data_bytes_written(), DataBytes(writes)) << "no zero-filling written";
  EXPECT_EQ(t->metadata_bytes_written(), 36u * 4 * 2);
  EXPECT_EQ(FileSize(img), file_size + 36 * kGrain);
  // The order of the flush: data synced, redundant entries, sync, primary
  // entries, sync.
  ASSERT_GE(calls.size(), 9u);
  std::vector<std::string> tail(calls.end() - 9, calls.end());
  EXPECT_EQ(tail, (std::vector<std::string>{
                      "sync", "redundant grain table 0", "redundant grain table 0",
                      "redundant grain table 1", "sync", "grain table 0", "grain table 0",
                      "grain table 1", "sync"}));
  t.reset();
  EXPECT_TRUE(SparseMatches(ref, img));
}

// More grain tables than the cache holds: the entries of evicted tables
// reach the file first, and a table read again sees them (a grain is
// written in place, not allocated twice).
TEST(FailbackTargetTest, SparseTableCacheEvictionKeepsNewEntries) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  const uint64_t tables = tools::SparseVmdkPatcher::kMaxCachedTables + 4, span = 32 * kMiB;
  ASSERT_TRUE(MakeTargetAndReference(img, "monolithicSparse", tables * span, {}, ref));
  const uint64_t file_size = FileSize(img);
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  std::vector<Piece> writes;
  for (uint64_t i = 0; i < tables; ++i) {
    writes.push_back({i * span + (i % 16) * 4 * kKiB, 4 * kKiB, static_cast<uint32_t>(i + 1)});
  }
  writes.push_back({8 * kKiB, 4 * kKiB, 99999});  // table 0 again, after its eviction
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  ApplyToReference(ref, writes);
  EXPECT_EQ(FileSize(img), file_size + tables * kGrain);
  EXPECT_EQ(t->metadata_bytes_written(), tables * 4 * 2);
  t.reset();
  auto again = OpenOk(img);
  ASSERT_TRUE(again);
  for (const Piece& p : writes) {
    std::string got(p.bytes, '\0');
    ASSERT_OK(again->Read(p.offset, p.bytes, got.data()));
    ASSERT_TRUE(got == ReadBytes(ref, p.offset, p.bytes)) << "block at offset " << p.offset;
  }
  again.reset();
  EXPECT_TRUE(SparseMatches(ref, img));
}

TEST(FailbackTargetTest, SparseLastBlockInAShortLastGrain) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  const uint64_t size = 8 * kMiB + 4 * kKiB;  // the last grain holds 4 KiB of disk
  ASSERT_TRUE(MakeTargetAndReference(img, "monolithicSparse", size, {"write -P 0x11 0 1M"}, ref));
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->size(), size);
  const auto writes = Join({Blocks(size - 4 * kKiB, 1, 1), Blocks(size - 8 * kKiB, 1, 2)});
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  ApplyToReference(ref, writes);
  EXPECT_TRUE(ReadsAsReference(*t, ref));
  t.reset();
  EXPECT_TRUE(SparseMatches(ref, img));
}

TEST(FailbackTargetTest, SparseZeroedGrainEntriesGetAGrainOnTheFirstData) {
  TempDir dir;
  const std::string img = dir / "disk.vmdk", ref = dir / "ref.raw";
  ASSERT_TRUE(MakeRaw(ref, 4 * kMiB, {"write -P 0x11 0 1M", "write -z 256k 128k"}));
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 4 * kMiB,
                       {"write -P 0x11 0 1M", "write -z 256k 128k"}, /*zeroed_grain=*/true));
  const SparseFields f = ReadSparseFields(img);
  ASSERT_EQ(LoadLE(img, GteAt(img, f, false, 0, 4), 4), 1u) << "grain 4 is a zeroed-grain entry";
  auto t = OpenOk(img);
  ASSERT_TRUE(t);
  const auto writes = Join({Blocks(256 * kKiB + 4 * kKiB, 1, 1), Blocks(320 * kKiB, 2, 0)});
  ASSERT_OK(ApplyTo(*t, writes));
  ASSERT_OK(t->Sync());
  ApplyToReference(ref, writes);
  EXPECT_EQ(t->data_bytes_written(), 4 * kKiB) << "zeros into the zeroed grain 5 are not written";
  t.reset();
  EXPECT_GT(LoadLE(img, GteAt(img, f, false, 0, 4), 4), 1u);
  EXPECT_EQ(LoadLE(img, GteAt(img, f, false, 0, 5), 4), 1u);
  EXPECT_TRUE(SparseMatches(ref, img));
}

// qemu rewrites CID= with "%x" on its first write, leaving the old text's
// last bytes after the NUL when the new CID is two digits shorter (1 in
// 256 qemu-written images); qemu and VMware read up to the NUL, so must we.
TEST(FailbackTargetTest, BytesAfterTheDescriptorsNulAreIgnored) {
  TempDir dir;
  for (std::string sub : {"monolithicSparse", "monolithicFlat"}) {
    SCOPED_TRACE(sub);
    const std::string img = dir / (sub + ".vmdk"), ref = dir / (sub + ".raw");
    ASSERT_TRUE(MakeTargetAndReference(img, sub, 4 * kMiB, {"write -P 0x11 0 1M"}, ref));
    const uint64_t area = sub == "monolithicSparse" ? 512 : 0;
    const std::string file = ReadFile(img);
    const uint64_t nul = std::min(file.find('\0', area), file.size());
    StoreBytes(img, nul, std::string("\0\n\0", 3));
    auto t = OpenOk(img);
    ASSERT_TRUE(t);
    const auto writes = Blocks(2 * kMiB, 2, 1);
    ASSERT_OK(ApplyTo(*t, writes));
    ASSERT_OK(t->Sync());
    ApplyToReference(ref, writes);
    t.reset();
    EXPECT_TRUE(SameAsReference(ref, img, true));
  }
}

TEST(FailbackTargetTest, OutOfRangeReadsAndWritesAreRefused) {
  for (std::string sub : {"raw", "monolithicFlat", "monolithicSparse"}) {
    SCOPED_TRACE(sub);
    TempDir dir;
    const std::string img = dir / "disk.img", ref = dir / "ref.raw";
    const uint64_t size = kMiB;
    ASSERT_TRUE(MakeTargetAndReference(img, sub, size, {"write -P 0x11 0 1M"}, ref));
    auto t = OpenOk(img);
    ASSERT_TRUE(t);
    const std::string block(4 * kKiB, 'x');
    for (uint64_t at : {size - 2 * kKiB, size, ~uint64_t{0} - 100}) {
      Status s = t->Write(at, block.data(), block.size());
      EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << at;
      EXPECT_NE(s.message().find("write of 4096 bytes at offset " + std::to_string(at) +
                                 " is past the end of the disk (1048576 bytes)"),
                std::string::npos) << s.message();
      EXPECT_NE(s.message().find(dir.path()), std::string::npos) << s.message();
    }
    char two[2];
    EXPECT_EQ(t->Read(size - 1, 2, two).code(), Status::Code::kInvalidArgument);
    ASSERT_OK(t->Write(size, block.data(), 0));
    ASSERT_OK(t->Sync());
    EXPECT_EQ(t->data_bytes_written(), 0u);
    t.reset();
    EXPECT_TRUE(SameAsReference(ref, img, sub != "raw"));
  }
}

}  // namespace
}  // namespace rpfs::testing
