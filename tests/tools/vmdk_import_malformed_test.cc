// `rpfs disk import` of malformed VMDK files, each made by byte surgery on a valid qemu-img
// output: bad magic, grain size zero or not a power of two, grain directory and grain table
// offsets past the end of the file, grain table entries pointing into metadata, grains that
// overlap, bad deflate data, files truncated at many points, a missing extent file, extent
// sizes that disagree with the capacity, absurd capacities. Each import exits 1 with exactly one
// line on stderr naming the file, the structure and a byte offset, and leaves the vault as it
// was: `disk list` unchanged and `verify --deep` clean.
//
// qemu-img and qemu-io (Debian qemu-utils) are required: without them these tests fail.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"
#include "tests/tools/vmdk_test_images.h"

namespace rpfs::testing {
namespace {

// True if text says "offset N" with N a decimal number. (No std::regex:
// GCC 12 under ASan warns inside <regex> with -Werror.)
bool HasOffset(const std::string& text) {
  for (size_t at = text.find("offset "); at != std::string::npos; at = text.find("offset ", at + 1)) {
    size_t digit = at + 7;
    if (digit < text.size() && text[digit] >= '0' && text[digit] <= '9') return true;
  }
  return false;
}

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kCapacity = 16 * kMiB;  // 256 grains, one grain table

// Data in the 48 grains of the first 3 MiB, in the last one (16M-64k), a hole between.
const std::vector<std::string> kWrites = {"write -P 0x31 0 3M", "write -P 0x32 16711680 64k"};

std::string Base(const std::string& path) { return path.substr(path.rfind('/') + 1); }

class VmdkImportMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_ / "pw", "test passphrase\n");
    CliResult r = RunRpfs({"init", vault_, "--passphrase-file", dir_ / "pw"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(Run({"group", "create", "web"}).exit_code, 0);
    // A disk already there, so "unchanged" means something.
    std::string good = dir_ / "good.vmdk";
    ASSERT_TRUE(MakeVmdk(good, "monolithicSparse", 4 * kMiB, {"write -P 0x01 0 1M"}));
    r = Run({"disk", "import", "vm/good", good, "--group", "web"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return RunRpfs(args);
  }

  // A fresh valid image of subformat, named name.vmdk.
  std::string Make(const std::string& name, const std::string& subformat,
                   uint64_t capacity = kCapacity) {
    std::string path = dir_ / (name + ".vmdk");
    EXPECT_TRUE(MakeVmdk(path, subformat, capacity, kWrites));
    return path;
  }

  // Imports `image`; it must be refused with exit 1 and one line on stderr naming `file`
  // (default: the image), every piece of `says`, and a byte offset; the vault must be as before.
  void ExpectRefused(const std::string& image, const std::vector<std::string>& says,
                     const std::string& file = "") {
    CliResult before = Run({"disk", "list", "--json"});
    ASSERT_EQ(before.exit_code, 0);
    CliResult r = Run({"disk", "import", "vm/bad", image, "--group", "web"});
    std::printf("%s", r.err.c_str());
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line:\n" << r.err;
    EXPECT_EQ(r.err.rfind("rpfs: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(Base(file.empty() ? image : file)), std::string::npos) << r.err;
    for (const std::string& s : says) EXPECT_NE(r.err.find(s), std::string::npos) << r.err;
    EXPECT_TRUE(HasOffset(r.err)) << r.err;

    CliResult after = Run({"disk", "list", "--json"});
    EXPECT_EQ(after.out, before.out);
    CliResult verify = Run({"verify", "--deep"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_NE(verify.out.find("clean"), std::string::npos) << verify.out;
  }

  TempDir dir_;
  std::string vault_ = dir_ / "vault";
};

TEST_F(VmdkImportMalformedTest, BadMagic) {
  std::string img = Make("magic", "monolithicSparse");
  StoreBytes(img, 0, "KDMX");
  ExpectRefused(img, {"header at offset 0", "bad magic"});

  // A sparse piece of a descriptor's disk.
  std::string desc = Make("piece", "twoGbMaxExtentSparse");
  std::string piece = dir_ / "piece-s001.vmdk";
  StoreBytes(piece, 0, "XXXX");
  ExpectRefused(desc, {"header at offset 0", "bad magic 0x58585858"}, piece);
}

TEST_F(VmdkImportMalformedTest, GrainSizeZeroOrNotAPowerOfTwo) {
  for (uint64_t grain : {0, 100, 3}) {
    SCOPED_TRACE(grain);
    std::string img = Make("grain" + std::to_string(grain), "monolithicSparse");
    StoreLE(img, 20, grain, 8);
    ExpectRefused(img, {"header at offset 20", grain == 0 ? "grain size is 0"
                                                          : "is not a power of two"});
  }
}

TEST_F(VmdkImportMalformedTest, GrainDirectoryOffsetPastEndOfFile) {
  // Both directories: with one intact copy the import would (rightly) read through it.
  std::string img = Make("gd", "monolithicSparse");
  StoreLE(img, 56, 1u << 30, 8);
  StoreLE(img, 48, 1u << 30, 8);
  ExpectRefused(img, {"header at offset 56", "grain directory at sector 1073741824",
                      "past the end of the file"});
}

TEST_F(VmdkImportMalformedTest, GrainTableOffsetPastEndOfFile) {
  std::string img = Make("gt", "monolithicSparse");
  SparseFields f = ReadSparseFields(img);
  StoreLE(img, f.GdEntryAt(false, 0), 0x7fffffff, 4);
  StoreLE(img, f.GdEntryAt(true, 0), 0x7fffffff, 4);
  ExpectRefused(img, {"grain directory entry 0 at offset " + std::to_string(f.gd * 512),
                      "grain table 0 at sector 2147483647", "past the end of the file"});
}

TEST_F(VmdkImportMalformedTest, GrainTableEntryPointingIntoMetadata) {
  std::string img = Make("meta", "monolithicSparse");
  SparseFields f = ReadSparseFields(img);
  const uint64_t gte = GteAt(img, f, false, 0, 7);
  SetGte(img, f, 0, 7, 1);  // the descriptor's sector (no zeroed-grain flag)
  ExpectRefused(img, {"grain table 0 entry 7 at offset " + std::to_string(gte),
                      "points into metadata"});

  // Past overHead, into the grain tables a VMware-layout stream keeps after its grains.
  std::string qemu = Make("meta-stream", "streamOptimized");
  std::string vmware = dir_ / "meta-vmware.vmdk";
  ASSERT_NO_FATAL_FAILURE(ConvertToFooterStream(qemu, vmware));
  SparseFields footer = ReadSparseFields(vmware, FileSize(vmware) - 1024);
  const uint64_t table = LoadLE(vmware, footer.GdEntryAt(false, 0), 4);
  const uint64_t entry = table * 512 + 4 * 3;
  StoreLE(vmware, entry, table, 4);
  ExpectRefused(vmware, {"grain table 0 entry 3 at offset " + std::to_string(entry),
                         "points into metadata"});
}

TEST_F(VmdkImportMalformedTest, OverlappingGrains) {
  // Two entries for one grain.
  std::string img = Make("twice", "monolithicSparse");
  SparseFields f = ReadSparseFields(img);
  uint32_t first = static_cast<uint32_t>(LoadLE(img, GteAt(img, f, false, 0, 0), 4));
  SetGte(img, f, 0, 9, first);
  ExpectRefused(img, {"grain table 0 entry 9", "overlaps another grain"});

  // A grain that starts one sector into another.
  img = Make("shifted", "monolithicSparse");
  f = ReadSparseFields(img);
  first = static_cast<uint32_t>(LoadLE(img, GteAt(img, f, false, 0, 0), 4));
  SetGte(img, f, 0, 9, first + 1);
  ExpectRefused(img, {"grain table 0 entry", "overlaps another grain"});

  // Compressed grains out of file order: each marker names its own sector, so swapped
  // pointers are caught there.
  img = Make("swapped", "streamOptimized");
  SparseFields s = ReadSparseFields(img);
  uint32_t a = static_cast<uint32_t>(LoadLE(img, GteAt(img, s, false, 0, 1), 4));
  uint32_t b = static_cast<uint32_t>(LoadLE(img, GteAt(img, s, false, 0, 2), 4));
  SetGte(img, s, 0, 1, b);
  SetGte(img, s, 0, 2, a);
  ExpectRefused(img, {"grain table 0 entry 1", "grain marker at offset", "names sector"});
}

TEST_F(VmdkImportMalformedTest, BadDeflateData) {
  std::string img = Make("deflate", "streamOptimized");
  SparseFields f = ReadSparseFields(img);
  // Grain 30 of 48 with data: the import has written the first ones when it finds this.
  const uint64_t marker = LoadLE(img, GteAt(img, f, false, 0, 30), 4) * 512;
  StoreBytes(img, marker + 12 + 2, std::string(40, '\xff'));
  ExpectRefused(img, {"grain table 0 entry 30", "compressed grain at offset " +
                                                    std::to_string(marker)});
  // The half-imported disk is gone and its name free again.
  std::string good = Make("deflate-good", "streamOptimized");
  CliResult r = Run({"disk", "import", "vm/bad", good, "--group", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(VmdkImportMalformedTest, TruncatedAnywhere) {
  std::string sparse = Make("trunc-sparse", "monolithicSparse");
  std::string stream = Make("trunc-stream", "streamOptimized");
  std::string vmware = dir_ / "trunc-vmware.vmdk";
  ASSERT_NO_FATAL_FAILURE(ConvertToFooterStream(stream, vmware));
  for (const std::string& img : {sparse, stream, vmware}) {
    const uint64_t size = FileSize(img);
    // The header copy that holds the directory's place (VMware's: the footer).
    SparseFields f = ReadSparseFields(img, img == vmware ? size - 1024 : 0);
    auto grain_at = [&](uint64_t entry) { return LoadLE(img, GteAt(img, f, false, 0, entry), 4) * 512; };
    // Inside the header, the descriptor, the directories, the grain table (up front in
    // qemu-img's layout, after the grains in VMware's), the first, a middle and the last grain
    // (grains 0, 24 and 255 hold data). Bytes past the last structure are unused (qemu-img's
    // stream files end in some), so cuts are placed by structure; less than 4 bytes is no
    // longer a VMDK.
    std::vector<uint64_t> cuts = {4, 100, 511, 600, f.gd * 512 + 8,
                                  LoadLE(img, f.GdEntryAt(false, 0), 4) * 512 + 100,
                                  grain_at(0) + 100, grain_at(24) + 100, grain_at(255) + 20};
    if (f.flags & 2) cuts.push_back(f.rgd * 512 + 10);
    if (img == sparse) cuts.push_back(size - 1);
    if (img == vmware) {
      cuts.push_back(size - 1024 + 100);  // in the footer
      cuts.push_back(size - 512);         // no end-of-stream marker
    }
    // Each cut also rounded down to a sector, past the check of a ragged end.
    for (size_t i = 0, n = cuts.size(); i < n; ++i) cuts.push_back(cuts[i] / 512 * 512);
    for (uint64_t cut : cuts) {
      if (cut < 4 || cut >= size) continue;
      SCOPED_TRACE(Base(img) + " cut at " + std::to_string(cut));
      std::string copy = dir_ / ("cut-" + Base(img));
      WriteFile(copy, ReadFile(img));
      TruncateFile(copy, cut);
      ExpectRefused(copy, {});
    }
  }
  // A flat extent shorter than its extent line.
  std::string flat = Make("trunc-flat", "monolithicFlat");
  TruncateFile(dir_ / "trunc-flat-flat.vmdk", kCapacity - 512);
  ExpectRefused(flat, {"extent line", "trunc-flat-flat.vmdk, which has"});
}

TEST_F(VmdkImportMalformedTest, MissingExtentFile) {
  std::string desc = Make("split", "twoGbMaxExtentFlat", 5ull << 30);
  ASSERT_EQ(::unlink((dir_ / "split-f002.vmdk").c_str()), 0);
  ExpectRefused(desc, {"extent line 9 (offset ", "cannot open", "split-f002.vmdk",
                       "No such file or directory"});
}

TEST_F(VmdkImportMalformedTest, ExtentSizesNotSummingToCapacity) {
  // A descriptor's extent line against its sparse piece's header.
  std::string desc = Make("sum", "twoGbMaxExtentSparse");
  std::string text = ReadFile(desc);
  size_t at = text.find("RW 32768 SPARSE");
  ASSERT_NE(at, std::string::npos) << text;
  WriteFile(desc, text.replace(at, 15, "RW 32760 SPARSE"));
  ExpectRefused(desc, {"extent line 8", "extent of 32760 sectors", "sum-s001.vmdk's header says 32768"});

  // A monolithic sparse file's own descriptor against its header.
  std::string img = Make("embedded", "monolithicSparse");
  text = ReadFile(img);
  at = text.find("RW 32768 SPARSE");
  ASSERT_NE(at, std::string::npos);
  StoreBytes(img, at, "RW 32767 SPARSE");
  ExpectRefused(img, {"descriptor at offset 512", "extents add up to 32767 sectors",
                      "capacity is 32768"});

  // Extent lines that need more than the flat file holds.
  std::string flat = Make("flat", "monolithicFlat");
  text = ReadFile(flat);
  at = text.find("RW 32768 FLAT");
  ASSERT_NE(at, std::string::npos);
  WriteFile(flat, text.replace(at, 13, "RW 32769 FLAT"));
  ExpectRefused(flat, {"extent line 8", "flat-flat.vmdk, which has 16777216 bytes"});
}

TEST_F(VmdkImportMalformedTest, AbsurdCapacity) {
  std::string img = Make("huge", "monolithicSparse");
  StoreLE(img, 12, uint64_t{1} << 47, 8);  // 64 PiB
  ExpectRefused(img, {"header at offset 12", "capacity of 140737488355328 sectors is over 64 TiB"});

  std::string desc = dir_ / "huge-desc.vmdk";
  const std::string head = "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
                           "createType=\"custom\"\n";
  WriteFile(desc, head + "RW 99999999999999999999 ZERO\n");
  ExpectRefused(desc, {"descriptor line 6 (offset " + std::to_string(head.size()) + ")",
                       "overflows"});
  WriteFile(desc, head + "RW 68719476736 ZERO\nRW 68719476736 ZERO\nRW 8 ZERO\n");  // 64 TiB + 4 KiB
  ExpectRefused(desc, {"extent line 8", "over 64 TiB"});
}

}  // namespace
}  // namespace rpfs::testing
