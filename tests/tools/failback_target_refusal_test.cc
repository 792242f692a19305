// FailbackTarget::Open (tools/dr/failback_target.h) refuses what it cannot
// update in place: streamOptimized, twoGbMaxExtentFlat and -Sparse (the
// descriptor and a piece alone), a descriptor of two extents, a child
// disk, grain tables not allocated, a missing extent file; and files that
// are damaged: truncated sparse files, a damaged magic (which must not be
// taken for a raw image and overwritten), a redundant grain table placed
// over data (writing its entries would destroy the data). Each refusal is
// one line naming the file and what, and leaves the file as it was.
//
// qemu-img and qemu-io (Debian qemu-utils) are required: without them these tests fail.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"
#include "tests/tools/failback_target_images.h"
#include "tools/dr/failback_target.h"

namespace rpfs::testing {
namespace {

using tools::FailbackTarget;

// Open(path) fails with `code`, one line naming `names` and containing
// `what`, and path's bytes are unchanged.
void ExpectRefused(const std::string& path, Status::Code code, const std::string& names,
                   const std::string& what) {
  SCOPED_TRACE(path);
  const std::string before = ReadFile(path);
  std::unique_ptr<FailbackTarget> t;
  Status s = FailbackTarget::Open(path, &t);
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_FALSE(t);
  EXPECT_NE(s.message().find(names), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  EXPECT_EQ(ReadFile(path), before);
}

const std::vector<std::string> kData = {"write -P 0x11 0 1M"};

TEST(FailbackTargetRefusalTest, StreamOptimized) {
  TempDir dir;
  ASSERT_TRUE(MakeVmdk(dir / "s.vmdk", "streamOptimized", 4 * kMiB, kData));
  ExpectRefused(dir / "s.vmdk", Status::Code::kInvalidArgument, dir / "s.vmdk",
                "compressed grains (streamOptimized) cannot be updated in place");
}

TEST(FailbackTargetRefusalTest, TwoGbMaxExtentFlatAndSparse) {
  TempDir dir;
  for (std::string sub : {"twoGbMaxExtentFlat", "twoGbMaxExtentSparse"}) {
    // 10 MiB: one extent, so only createType tells it is a split disk.
    ASSERT_TRUE(MakeVmdk(dir / (sub + ".vmdk"), sub, 10 * kMiB, kData));
    ExpectRefused(dir / (sub + ".vmdk"), Status::Code::kInvalidArgument, dir / (sub + ".vmdk"),
                  "descriptor: createType \"" + sub + "\" cannot be updated in place");
  }
  // A piece of the sparse one: a KDMV file without an embedded descriptor.
  ExpectRefused(dir / "twoGbMaxExtentSparse-s001.vmdk", Status::Code::kInvalidArgument,
                dir / "twoGbMaxExtentSparse-s001.vmdk", "one extent of a split disk");
}

TEST(FailbackTargetRefusalTest, DescriptorOfTwoExtents) {
  TempDir dir;
  WriteFile(dir / "a-flat.vmdk", std::string(kMiB, '\0'));
  WriteFile(dir / "b-flat.vmdk", std::string(kMiB, '\0'));
  WriteFile(dir / "two.vmdk",
            "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
            "createType=\"monolithicFlat\"\n\n# Extent description\n"
            "RW 2048 FLAT \"a-flat.vmdk\" 0\nRW 2048 FLAT \"b-flat.vmdk\" 0\n");
  ExpectRefused(dir / "two.vmdk", Status::Code::kInvalidArgument, dir / "two.vmdk",
                "descriptor: 2 extents; only a disk of one FLAT extent can be updated in place");
}

TEST(FailbackTargetRefusalTest, MissingFlatExtent) {
  TempDir dir;
  ASSERT_TRUE(MakeVmdk(dir / "f.vmdk", "monolithicFlat", 4 * kMiB, kData));
  ASSERT_EQ(::unlink((dir / "f-flat.vmdk").c_str()), 0);
  ExpectRefused(dir / "f.vmdk", Status::Code::kInvalidArgument, dir / "f.vmdk: extent line",
                "cannot open " + (dir / "f-flat.vmdk") + " for writing");
}

TEST(FailbackTargetRefusalTest, SparseChildDisk) {
  TempDir dir;
  ASSERT_TRUE(MakeVmdk(dir / "base.vmdk", "monolithicSparse", 4 * kMiB, kData));
  ASSERT_TRUE(Ran({"qemu-img", "create", "-q", "-f", "vmdk", "-b", dir / "base.vmdk", "-F", "vmdk",
                   dir / "child.vmdk"}));
  ExpectRefused(dir / "child.vmdk", Status::Code::kInvalidArgument,
                dir / "child.vmdk: descriptor at offset 512",
                "a child disk (it has a parent) cannot be updated in place");
}

TEST(FailbackTargetRefusalTest, SparseWithAnUnallocatedGrainTable) {
  TempDir dir;
  const std::string img = dir / "d.vmdk";
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 40 * kMiB, kData));
  const SparseFields f = ReadSparseFields(img);
  StoreLE(img, f.GdEntryAt(false, 1), 0, 4);
  StoreLE(img, f.GdEntryAt(true, 1), 0, 4);
  ExpectRefused(img, Status::Code::kInvalidArgument,
                img + ": grain directory entry 1 at offset " +
                    std::to_string(f.GdEntryAt(false, 1)),
                "grain table 1 is not allocated");
}

TEST(FailbackTargetRefusalTest, SparseRedundantTableOverData) {
  TempDir dir;
  const std::string img = dir / "d.vmdk";
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 4 * kMiB, kData));
  const SparseFields f = ReadSparseFields(img);
  // The redundant directory points its table at grain 0's data.
  const uint64_t grain0 = LoadLE(img, GteAt(img, f, false, 0, 0), 4);
  StoreLE(img, f.GdEntryAt(true, 0), grain0, 4);
  ExpectRefused(img, Status::Code::kCorruption, img + ": redundant grain table 0 at offset " +
                std::to_string(grain0 * 512), "past the first grain (overHead");
}

TEST(FailbackTargetRefusalTest, TruncatedSparse) {
  TempDir dir;
  const std::string img = dir / "d.vmdk";
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 4 * kMiB, kData));
  const uint64_t size = FileSize(img);
  TruncateFile(img, size - 32 * kKiB);  // inside the last grain
  ExpectRefused(img, Status::Code::kCorruption, img + ": grain table 0 entry 15 at offset",
                "is past the end of the file (" + std::to_string(size - 32 * kKiB) + " bytes)");
  TruncateFile(img, size - 1000);
  ExpectRefused(img, Status::Code::kCorruption, img, "inside a sector: truncated?");
  TruncateFile(img, 8 * kKiB);  // inside the metadata
  ExpectRefused(img, Status::Code::kCorruption, img, "past the end of the file");
}

TEST(FailbackTargetRefusalTest, DamagedMagicIsNotTakenForRaw) {
  TempDir dir;
  const std::string img = dir / "d.vmdk";
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 4 * kMiB, kData));
  StoreBytes(img, 0, "KDMW");
  ExpectRefused(img, Status::Code::kCorruption, img + ": header at offset 0",
                "not KDMV (the rest is a sparse VMDK header)");
}

TEST(FailbackTargetRefusalTest, EmptyFileAndDirectory) {
  TempDir dir;
  WriteFile(dir / "empty", "");
  ExpectRefused(dir / "empty", Status::Code::kInvalidArgument, dir / "empty", "is empty");
  std::unique_ptr<FailbackTarget> t;
  Status s = FailbackTarget::Open(dir.path(), &t);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  s = FailbackTarget::Open(dir / "none", &t);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(dir / "none"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace rpfs::testing
