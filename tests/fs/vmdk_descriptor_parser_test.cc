// fs/vmdk_descriptor_parser: reads what our generator (fs/vmdk_descriptor) and qemu-img write,
// with every field it promises; refuses each kind of malformed line with one message naming the
// file, the line and its byte offset; holds its bounds (size, line length, sector overflow).
//
// qemu-img (Debian qemu-utils) is required: without it these tests fail.
#include "fs/vmdk/vmdk_descriptor_parser.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/vmdk/vmdk_descriptor.h"
#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

using fs::DescriptorExtent;
using fs::ExtentAccess;
using fs::ExtentType;
using fs::ParseVmdkDescriptor;
using fs::VmdkDescriptor;

const std::string kHead =
    "# Disk DescriptorFile\nversion=1\nCID=12ab34cd\nparentCID=ffffffff\n"
    "createType=\"monolithicFlat\"\n";

VmdkDescriptor MustParse(const std::string& text) {
  VmdkDescriptor d;
  Status s = ParseVmdkDescriptor(text, "d.vmdk", 0, &d);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n--- text:\n" << text;
  return d;
}

// The message ParseVmdkDescriptor gives for `text`, "" if it parses.
std::string ErrorOf(const std::string& text, uint64_t base = 0) {
  VmdkDescriptor d;
  Status s = ParseVmdkDescriptor(text, "d.vmdk", base, &d);
  if (s.ok()) return "";
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  return s.message();
}

// `line` appended after kHead is refused at line 6, whose offset is kHead's size.
void ExpectBadLine(const std::string& line, const std::string& says) {
  std::string err = ErrorOf(kHead + line + "\n");
  std::string where = "d.vmdk: descriptor line 6 (offset " + std::to_string(kHead.size()) + "): ";
  EXPECT_EQ(err.rfind(where, 0), 0u) << "line: " << line << "\nerror: " << err;
  EXPECT_NE(err.find(says), std::string::npos) << "line: " << line << "\nerror: " << err;
}

TEST(VmdkDescriptorParser, ReadsOurGenerator) {
  for (const char* adapter : {"lsilogic", "ide"}) {
    fs::DescriptorParams p;
    p.capacity_bytes = uint64_t{20} << 30;
    p.flat_file_name = "disk0-flat.vmdk";
    p.cid = 0x0badcafe;
    p.adapter_type = adapter;
    p.uuid = std::array<uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    std::string text = fs::MonolithicFlatDescriptor(p);
    ASSERT_FALSE(text.empty());
    VmdkDescriptor d = MustParse(text);
    EXPECT_EQ(d.version, 1u);
    EXPECT_EQ(d.cid, 0x0badcafeu);
    EXPECT_EQ(d.parent_cid, 0xffffffffu);
    EXPECT_EQ(d.create_type, "monolithicFlat");
    ASSERT_EQ(d.extents.size(), 1u);
    const DescriptorExtent& e = d.extents[0];
    EXPECT_EQ(e.access, ExtentAccess::kReadWrite);
    EXPECT_EQ(e.type, ExtentType::kFlat);
    EXPECT_EQ(e.sectors, p.capacity_bytes / 512);
    EXPECT_EQ(e.file, "disk0-flat.vmdk");
    EXPECT_EQ(e.offset_sectors, 0u);
    EXPECT_EQ(e.line, 9u);
    EXPECT_EQ(d.total_sectors, p.capacity_bytes / 512);
    ASSERT_EQ(d.ddb.size(), 6u);
    EXPECT_EQ(d.ddb[0].first, "ddb.virtualHWVersion");
    EXPECT_EQ(d.ddb[4], (std::pair<std::string, std::string>("ddb.adapterType", adapter)));
    EXPECT_EQ(d.ddb[5].second, "01 02 03 04 05 06 07 08-09 0a 0b 0c 0d 0e 0f 10");
  }
}

TEST(VmdkDescriptorParser, ReadsQemuImgDescriptors) {
  TempDir dir;
  struct Case {
    const char* subformat;
    const char* size;
    size_t extents;
    ExtentType type;
    const char* last_file;
  };
  // 5 GiB split into 2 GiB extents: three extent lines.
  for (const Case& c :
       {Case{"monolithicFlat", "300M", 1, ExtentType::kFlat, "monolithicFlat-flat.vmdk"},
        Case{"twoGbMaxExtentFlat", "5G", 3, ExtentType::kFlat, "twoGbMaxExtentFlat-f003.vmdk"},
        Case{"twoGbMaxExtentSparse", "5G", 3, ExtentType::kSparse,
             "twoGbMaxExtentSparse-s003.vmdk"}}) {
    std::string path = dir / (std::string(c.subformat) + ".vmdk");
    CliResult r = RunProgram({"qemu-img", "create", "-q", "-f", "vmdk", "-o",
                              std::string("subformat=") + c.subformat, path, c.size});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    VmdkDescriptor d = MustParse(ReadFile(path));
    EXPECT_EQ(d.create_type, c.subformat);
    ASSERT_EQ(d.extents.size(), c.extents) << c.subformat;
    for (const DescriptorExtent& e : d.extents) EXPECT_EQ(e.type, c.type);
    EXPECT_EQ(d.total_sectors * 512, std::string(c.size) == "5G" ? uint64_t{5} << 30 : 300u << 20);
    EXPECT_EQ(d.extents.back().file, c.last_file);
  }
}

TEST(VmdkDescriptorParser, ReadsTheDescriptorEmbeddedInASparseExtent) {
  TempDir dir;
  std::string path = dir / "s.vmdk";
  CliResult r = RunProgram({"qemu-img", "create", "-q", "-f", "vmdk", path, "64M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // qemu-img puts it at sector 1, 20 sectors long, NUL-padded.
  std::string text = ReadFile(path).substr(512, 20 * 512);
  VmdkDescriptor d;
  Status s = ParseVmdkDescriptor(text, "s.vmdk", 512, &d);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(d.create_type, "monolithicSparse");
  ASSERT_EQ(d.extents.size(), 1u);
  EXPECT_EQ(d.extents[0].type, ExtentType::kSparse);
  EXPECT_EQ(d.extents[0].sectors, 64u * 2048);
  EXPECT_EQ(d.extents[0].line_offset, 512u + text.find("RW "));
}

// QEMU rewrites CID= with "%x" in place: a shorter new CID leaves the old
// text's tail after the NUL it writes. The text ends at the first NUL.
TEST(VmdkDescriptorParser, TextEndsAtTheFirstNul) {
  std::string text = kHead + "RW 2048 FLAT \"d-flat.vmdk\" 0\n";
  text += std::string("\0", 1) + "mdk\" 0\nddb.geometry.heads = \"16\"\n" + std::string(40, '\0');
  VmdkDescriptor d = MustParse(text);
  ASSERT_EQ(d.extents.size(), 1u);
  EXPECT_EQ(d.extents[0].sectors, 2048u);
  EXPECT_EQ(ErrorOf(std::string("\0", 1) + kHead), ErrorOf(""));  // nothing before the NUL
}

TEST(VmdkDescriptorParser, AcceptsTheFormatsLatitude) {
  std::string text =
      "\n  # comment\r\n\t\nversion = \"2\"\r\nCID=ABCDEF01\r\nparentCID = ffffffff\r\n"
      "createType=\"custom\"\r\nisNativeSnapshot = \"no\"\r\n"
      "RW 100 FLAT \"a disk-flat.vmdk\" 2048\r\n"
      "RDONLY\t200\tVMFS\t\"/vmfs/volumes/ds1/b.vmdk\"\r\n"
      "NOACCESS 300 ZERO\r\n"
      "RW 400 SPARSE \"c.vmdk\"   \r\n"
      "RW 8 VMFSSPARSE \"d-delta.vmdk\"\r\n"
      "ddb.adapterType = lsilogic\r\n";
  text += std::string(3000, '\0');  // the padding a sparse extent's descriptor area has
  VmdkDescriptor d = MustParse(text);
  EXPECT_EQ(d.version, 2u);
  EXPECT_EQ(d.cid, 0xabcdef01u);
  EXPECT_EQ(d.create_type, "custom");
  ASSERT_EQ(d.extents.size(), 5u);
  EXPECT_EQ(d.extents[0].file, "a disk-flat.vmdk");
  EXPECT_EQ(d.extents[0].offset_sectors, 2048u);
  EXPECT_EQ(d.extents[1].access, ExtentAccess::kReadOnly);
  EXPECT_EQ(d.extents[1].type, ExtentType::kVmfs);
  EXPECT_EQ(d.extents[1].file, "/vmfs/volumes/ds1/b.vmdk");
  EXPECT_EQ(d.extents[2].access, ExtentAccess::kNoAccess);
  EXPECT_EQ(d.extents[2].type, ExtentType::kZero);
  EXPECT_TRUE(d.extents[2].file.empty());
  EXPECT_EQ(d.extents[3].type, ExtentType::kSparse);
  EXPECT_EQ(d.extents[4].type, ExtentType::kVmfsSparse);
  EXPECT_EQ(d.total_sectors, 1008u);
  ASSERT_EQ(d.ddb.size(), 1u);
  EXPECT_EQ(d.ddb[0].second, "lsilogic");
}

TEST(VmdkDescriptorParser, RefusesBadExtentLines) {
  ExpectBadLine("RW 0 FLAT \"a\" 0", "sector count is 0");
  ExpectBadLine("RW -5 FLAT \"a\" 0", "is not a number");
  ExpectBadLine("RW 12x FLAT \"a\" 0", "is not a number");
  ExpectBadLine("RW 99999999999999999999 FLAT \"a\" 0", "overflows");
  ExpectBadLine("RW 18014398509481984 FLAT \"a\" 0", "overflows");  // 2^54 sectors: 2^63 bytes
  ExpectBadLine("RW 100", "extent type missing");
  ExpectBadLine("RW 100 FLOPPY \"a\" 0", "unknown extent type 'FLOPPY'");
  ExpectBadLine("RW 100 flat \"a\" 0", "unknown extent type");
  ExpectBadLine("RW 100 FLAT", "without a file name");
  ExpectBadLine("RW 100 FLAT a-flat.vmdk 0", "must be quoted");
  ExpectBadLine("RW 100 FLAT \"a-flat.vmdk 0", "no closing quote");
  ExpectBadLine("RW 100 FLAT \"\" 0", "file name is empty");
  ExpectBadLine("RW 100 FLAT \"a\"", "FLAT extent without an offset");
  ExpectBadLine("RW 100 FLAT \"a\"0", "junk after the extent file name");
  ExpectBadLine("RW 100 FLAT \"a\" 0 7", "junk after the extent offset");
  ExpectBadLine("RW 100 FLAT \"a\" 99999999999999999999", "extent offset 99999999999999999999 overflows");
  ExpectBadLine("RW 100 SPARSE \"a\" 0", "SPARSE extent with an offset");
  ExpectBadLine("RW 100 VMFS \"a\" 0", "VMFS extent with an offset");
  // Found by descriptor_fuzz: a ZERO extent has no file, so one naming a file is refused.
  ExpectBadLine("RW 10 ZERO \"a\"", "ZERO extent with a file name");
}

TEST(VmdkDescriptorParser, RefusesBadKeysAndValues) {
  ExpectBadLine("just words", "neither a comment, an extent nor key = value");
  ExpectBadLine("= 5", "empty key");
  ExpectBadLine("bad key = 5", "bad key");
  ExpectBadLine("ddb.x = \"unterminated", "no closing quote");
  ExpectBadLine("ddb.x = a\"b", "holds a quote");
  ExpectBadLine("CID=0", "key CID given twice");
  ExpectBadLine("cid=0", "given twice");  // keys are case-insensitive
  ExpectBadLine("ddb.bell = \"\a\"", "control character 7 at column 13");

  EXPECT_NE(ErrorOf("CID=1\nversion=1\n").find("the first key is 'CID', not version"),
            std::string::npos);
  EXPECT_NE(ErrorOf("RW 1 ZERO\nversion=1\n").find("extent before the version line"),
            std::string::npos);
  EXPECT_NE(ErrorOf("version=4\n").find("version '4' is not 1, 2 or 3"), std::string::npos);
  EXPECT_NE(ErrorOf("version=1\nCID=123456789\n").find("CID '123456789' is not 1-8 hex digits"),
            std::string::npos);
  EXPECT_NE(ErrorOf("version=1\nparentCID=xyz\n").find("parentCID 'xyz'"), std::string::npos);
  EXPECT_NE(ErrorOf("version=1\ncreateType=\"\"\n").find("createType is empty"),
            std::string::npos);
}

TEST(VmdkDescriptorParser, RefusesMissingPieces) {
  const std::string extent = "RW 8 ZERO\n";
  EXPECT_EQ(ErrorOf(kHead + extent), "");
  EXPECT_NE(ErrorOf(kHead).find("has no extent line"), std::string::npos);
  EXPECT_NE(ErrorOf("version=1\nparentCID=ffffffff\ncreateType=x\n" + extent).find("has no CID"),
            std::string::npos);
  EXPECT_NE(ErrorOf("version=1\nCID=1\ncreateType=x\n" + extent).find("has no parentCID"),
            std::string::npos);
  EXPECT_NE(ErrorOf("version=1\nCID=1\nparentCID=1\n" + extent).find("has no createType"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("# only\n\n", 4096), "d.vmdk: descriptor at offset 4096 has no version line");
  EXPECT_NE(ErrorOf(std::string(100, '\0')).find("has no version line"), std::string::npos);
}

TEST(VmdkDescriptorParser, HoldsItsBounds) {
  // A line just over the limit, and one at it.
  std::string long_value(fs::kMaxDescriptorLineBytes, 'x');
  ExpectBadLine("ddb.long = " + long_value, "more than 8192");
  EXPECT_EQ(ErrorOf(kHead + "RW 1 ZERO\nddb.l=" + long_value.substr(6) + "\n"), "");

  // More than 1 MiB, even if it is padding.
  std::string big = kHead + "RW 1 ZERO\n";
  big.resize(fs::kMaxDescriptorBytes + 1, '\0');
  EXPECT_NE(ErrorOf(big).find("more than 1048576"), std::string::npos);

  // Each extent is in range, their sum is not.
  std::string text = kHead;
  const uint64_t third = fs::kMaxDescriptorSectors / 3 + 1;
  for (int i = 0; i < 3; ++i) text += "RW " + std::to_string(third) + " ZERO\n";
  std::string err = ErrorOf(text);
  EXPECT_NE(err.find("descriptor line 8 "), std::string::npos) << err;
  EXPECT_NE(err.find("extents add up to more than"), std::string::npos) << err;

  // The extent count.
  text = kHead;
  for (size_t i = 0; i <= fs::kMaxDescriptorExtents; ++i) text += "RW 1 ZERO\n";
  EXPECT_NE(ErrorOf(text).find("more than 65536 extents"), std::string::npos);
}

TEST(VmdkDescriptorParser, NamesLineAndFileOffset) {
  // An embedded descriptor at sector 1: offsets count from the file's start.
  std::string text = "version=1\nCID=1\n\nbogus\n";
  EXPECT_EQ(ErrorOf(text, 512),
            "d.vmdk: descriptor line 4 (offset 529): neither a comment, an extent nor key = "
            "value: 'bogus'");
}

}  // namespace
}  // namespace rpfs::testing
