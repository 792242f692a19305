// fs/vmdk_descriptor: the descriptor we generate is one qemu-img reads as a monolithicFlat VMDK
// of the right size and maps onto the flat file byte for byte; its geometry is the one
// `qemu-img create` writes; DescriptorKeepsExtent accepts what QEMU does to a descriptor (a CID
// rewrite, for real through qemu-io and simulated) and refuses anything that remaps the disk.
//
// qemu-img and qemu-io (Debian qemu-utils) are required: without them these tests fail.
#include "fs/vmdk/vmdk_descriptor.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

extern char** environ;

namespace rpfs::testing {
namespace {

using fs::CheckDescriptorParams;
using fs::DescriptorCid;
using fs::DescriptorKeepsExtent;
using fs::DescriptorParams;
using fs::MonolithicFlatDescriptor;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kTiB = 1024 * kGiB;


std::string Describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

DescriptorParams Params(uint64_t capacity, const std::string& adapter = "lsilogic") {
  DescriptorParams p;
  p.capacity_bytes = capacity;
  p.flat_file_name = "disk0-flat.vmdk";
  p.cid = DescriptorCid("iis1/disk0", 1700000000000000000ull);
  p.adapter_type = adapter;
  return p;
}

// dir/disk0.vmdk (the descriptor) and dir/disk0-flat.vmdk, sparse, of the disk's size.
struct Image {
  std::string desc;
  std::string flat;
  std::string text;
};

void WriteImage(const TempDir& dir, const DescriptorParams& p, Image* image) {
  image->desc = dir / "disk0.vmdk";
  image->flat = dir / p.flat_file_name;
  image->text = MonolithicFlatDescriptor(p);
  ASSERT_FALSE(image->text.empty()) << CheckDescriptorParams(p).ToString();
  WriteFile(image->desc, image->text);
  int fd = ::open(image->flat.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << image->flat << ": " << std::strerror(errno);
  int rc = ::ftruncate(fd, static_cast<off_t>(p.capacity_bytes));
  int err = errno;
  ::close(fd);
  ASSERT_EQ(rc, 0) << "ftruncate " << image->flat << " to " << p.capacity_bytes << ": "
                   << std::strerror(err);
}

void PWriteAll(const std::string& path, uint64_t offset, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
  ::close(fd);
  ASSERT_EQ(n, static_cast<ssize_t>(data.size())) << "pwrite " << path;
}

void QemuImgInfo(const std::string& path, nlohmann::json* info) {
  CliResult r = RunProgram({"qemu-img", "info", "--output=json", path});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  *info = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(info->is_discarded()) << r.out;
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "no '" << from << "' in:\n" << s;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string ToCrlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// What QEMU's vmdk_write_cid() does on the first guest write: it reads the file into a
// sector-sized (QEMU 7.2) or 10 KiB (newer QEMU) buffer, NUL-padded past the end, prints the value
// after the first "CID=" as a random "%x" (no zero padding) over it, and writes the whole buffer
// back. A shorter CID leaves a NUL and then the old text's last bytes behind the new text.
std::string SimulateQemuCidRewrite(const std::string& text, uint32_t cid, size_t buffer_size) {
  size_t at = text.find("CID=");
  size_t eol = text.find('\n', at);
  EXPECT_NE(at, std::string::npos);
  EXPECT_NE(eol, std::string::npos);
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%x", cid);
  const std::string rewritten = text.substr(0, at + 4) + hex + text.substr(eol);
  std::string out = text;
  if (out.size() < buffer_size) out.resize(buffer_size, '\0');
  if (out.size() <= rewritten.size()) return rewritten;
  out.replace(0, rewritten.size(), rewritten);
  out[rewritten.size()] = '\0';
  return out;
}

// ---- qemu-img reads what we generate -------------------------------------------------------

TEST(VmdkDescriptorQemuTest, QemuToolsAreInstalled) {
  CliResult img = RunProgram({"qemu-img", "--version"});
  ASSERT_EQ(img.exit_code, 0) << Describe(img);
  EXPECT_NE(img.out.find("qemu-img version"), std::string::npos) << img.out;
  CliResult io = RunProgram({"qemu-io", "--version"});
  ASSERT_EQ(io.exit_code, 0) << Describe(io);
}

TEST(VmdkDescriptorQemuTest, InfoReportsFormatAndCapacity) {
  const uint64_t capacities[] = {
      1 * kMiB,
      20 * kGiB,
      2 * kTiB - 512,  // the largest disk VMware's sparse formats describe
      12345 * 512,     // an odd number of sectors
      512,             // one sector
  };
  for (uint64_t capacity : capacities) {
    for (const char* adapter : {"lsilogic", "ide"}) {
      SCOPED_TRACE("capacity " + std::to_string(capacity) + ", adapter " + adapter);
      TempDir dir;
      DescriptorParams p = Params(capacity, adapter);
      Image image;
      ASSERT_NO_FATAL_FAILURE(WriteImage(dir, p, &image));
      nlohmann::json info;
      ASSERT_NO_FATAL_FAILURE(QemuImgInfo(image.desc, &info));
      EXPECT_EQ(info.value("format", ""), "vmdk") << info.dump(2);
      EXPECT_EQ(info.value("virtual-size", uint64_t{0}), capacity) << info.dump(2);
      const nlohmann::json data = info["format-specific"]["data"];
      EXPECT_EQ(data.value("create-type", ""), "monolithicFlat") << info.dump(2);
      EXPECT_EQ(data.value("cid", uint64_t{0}), p.cid) << info.dump(2);
      EXPECT_EQ(data.value("parent-cid", uint64_t{0}), 0xffffffffull) << info.dump(2);
      ASSERT_TRUE(data["extents"].is_array()) << info.dump(2);
      ASSERT_EQ(data["extents"].size(), 1u) << info.dump(2);
      const nlohmann::json extent = data["extents"][0];
      EXPECT_EQ(extent.value("format", ""), "FLAT") << info.dump(2);
      EXPECT_EQ(extent.value("virtual-size", uint64_t{0}), capacity) << info.dump(2);
      EXPECT_EQ(extent.value("filename", ""), image.flat) << info.dump(2);
    }
  }
}

// Our heads/cylinders/sectors and extent size are exactly what `qemu-img create` writes for the
// same size and adapter.
TEST(VmdkDescriptorQemuTest, GeometryMatchesQemuImgCreate) {
  const uint64_t capacities[] = {1 * kMiB, 20 * kGiB, 2 * kTiB - 512, 12345 * 512,
                                 16383ull * 16 * 63 * 512 + 512};
  for (uint64_t capacity : capacities) {
    for (const char* adapter : {"ide", "lsilogic", "buslogic", "legacyESX"}) {
      SCOPED_TRACE("capacity " + std::to_string(capacity) + ", adapter " + adapter);
      TempDir dir;
      std::string theirs = dir / "q.vmdk";
      CliResult r = RunProgram({"qemu-img", "create", "-q", "-f", "vmdk", "-o",
                             std::string("subformat=monolithicFlat,adapter_type=") + adapter,
                             theirs, std::to_string(capacity)});
      ASSERT_EQ(r.exit_code, 0) << Describe(r);
      std::string their_text = ReadFile(theirs);
      std::string our_text = MonolithicFlatDescriptor(Params(capacity, adapter));
      ASSERT_FALSE(our_text.empty());
      std::vector<std::string> their_geometry = LinesStartingWith(their_text, "ddb.geometry.");
      EXPECT_EQ(their_geometry.size(), 3u) << their_text;
      EXPECT_EQ(LinesStartingWith(our_text, "ddb.geometry."), their_geometry)
          << "ours:\n" << our_text << "qemu-img's:\n" << their_text;
      EXPECT_EQ(LinesStartingWith(our_text, "ddb.adapterType"),
                LinesStartingWith(their_text, "ddb.adapterType"));
      EXPECT_EQ(LinesStartingWith(our_text, "RW " + std::to_string(capacity / 512) + " FLAT ")
                    .size(),
                1u);
      EXPECT_EQ(LinesStartingWith(their_text, "RW " + std::to_string(capacity / 512) + " FLAT ")
                    .size(),
                1u);
    }
  }
}

TEST(VmdkDescriptorQemuTest, CheckAndCompareSeeTheFlatFile) {
  TempDir dir;
  const uint64_t capacity = 4 * kMiB + 7 * 512;
  DescriptorParams p = Params(capacity);
  Image image;
  ASSERT_NO_FATAL_FAILURE(WriteImage(dir, p, &image));

  // The same writes into the flat file and into an independent raw image.
  std::string expected = dir / "expected.raw";
  WriteFile(expected, "");
  TruncateFile(expected, capacity);
  std::mt19937 rng(7);
  struct Write {
    uint64_t offset;
    size_t len;
  };
  const Write writes[] = {{0, 4096}, {kMiB + 100, 777}, {3 * kMiB - 1, 2}, {capacity - 512, 512}};
  for (const Write& w : writes) {
    std::string data(w.len, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    ASSERT_NO_FATAL_FAILURE(PWriteAll(image.flat, w.offset, data));
    ASSERT_NO_FATAL_FAILURE(PWriteAll(expected, w.offset, data));
  }

  CliResult check = RunProgram({"qemu-img", "check", image.desc});
  EXPECT_EQ(check.exit_code, 0) << Describe(check);
  EXPECT_NE(check.out.find("No errors were found"), std::string::npos) << Describe(check);

  CliResult same = RunProgram({"qemu-img", "compare", "-f", "vmdk", "-F", "raw", image.desc,
                            image.flat});
  EXPECT_EQ(same.exit_code, 0) << Describe(same);
  EXPECT_NE(same.out.find("Images are identical"), std::string::npos) << Describe(same);

  CliResult model = RunProgram({"qemu-img", "compare", "-f", "vmdk", "-F", "raw", image.desc,
                             expected});
  EXPECT_EQ(model.exit_code, 0) << Describe(model);
  EXPECT_NE(model.out.find("Images are identical"), std::string::npos) << Describe(model);

  std::string converted = dir / "converted.raw";
  CliResult conv = RunProgram({"qemu-img", "convert", "-f", "vmdk", "-O", "raw", image.desc,
                            converted});
  ASSERT_EQ(conv.exit_code, 0) << Describe(conv);
  EXPECT_TRUE(ReadFile(converted) == ReadFile(expected)) << "qemu-img convert differs";

  // A control: compare does notice a one-bit difference, and reports its sector.
  FlipBit(expected, kMiB + 500, 3);
  CliResult differ = RunProgram({"qemu-img", "compare", "-f", "vmdk", "-F", "raw", image.desc,
                              expected});
  EXPECT_EQ(differ.exit_code, 1) << Describe(differ);
  EXPECT_NE(differ.out.find("Content mismatch at offset " + std::to_string(kMiB) + "!"),
            std::string::npos)
      << Describe(differ);
}

// The real thing: QEMU writing through the descriptor rewrites its CID; the rewritten text keeps
// the extent, and the data went to the flat file.
TEST(VmdkDescriptorQemuTest, QemuCidRewriteKeepsExtent) {
  TempDir dir;
  DescriptorParams p = Params(4 * kMiB);
  Image image;
  ASSERT_NO_FATAL_FAILURE(WriteImage(dir, p, &image));
  CliResult w = RunProgram({"qemu-io", "-f", "vmdk", "-c", "write -P 0x5a 0 4k", image.desc});
  ASSERT_EQ(w.exit_code, 0) << Describe(w);
  std::string rewritten = ReadFile(image.desc);
  EXPECT_NE(rewritten, image.text) << "QEMU did not rewrite the descriptor";
  EXPECT_GE(rewritten.size(), image.text.size());
  EXPECT_TRUE(DescriptorKeepsExtent(image.text, rewritten)) << rewritten;
  EXPECT_EQ(ReadFile(image.flat).substr(0, 4096), std::string(4096, '\x5a'));
  nlohmann::json info;
  ASSERT_NO_FATAL_FAILURE(QemuImgInfo(image.desc, &info));
  EXPECT_EQ(info.value("virtual-size", uint64_t{0}), p.capacity_bytes) << info.dump(2);
}

// ---- the generated text ----------------------------------------------------------------------

TEST(VmdkDescriptorTest, GoldenText) {
  DescriptorParams p;
  p.capacity_bytes = 20 * kGiB;
  p.flat_file_name = "disk0-flat.vmdk";
  p.cid = 0xabcd;
  EXPECT_EQ(MonolithicFlatDescriptor(p),
            "# Disk DescriptorFile\n"
            "version=1\n"
            "encoding=\"UTF-8\"\n"
            "CID=0000abcd\n"
            "parentCID=ffffffff\n"
            "createType=\"monolithicFlat\"\n"
            "\n"
            "# Extent description\n"
            "RW 41943040 FLAT \"disk0-flat.vmdk\" 0\n"
            "\n"
            "# The Disk Data Base\n"
            "#DDB\n"
            "\n"
            "ddb.virtualHWVersion = \"4\"\n"
            "ddb.geometry.cylinders = \"2610\"\n"
            "ddb.geometry.heads = \"255\"\n"
            "ddb.geometry.sectors = \"63\"\n"
            "ddb.adapterType = \"lsilogic\"\n");
}

TEST(VmdkDescriptorTest, GeometryRule) {
  auto geometry = [](uint64_t capacity, const std::string& adapter) {
    return LinesStartingWith(MonolithicFlatDescriptor(Params(capacity, adapter)), "ddb.geometry.");
  };
  using Lines = std::vector<std::string>;
  EXPECT_EQ(geometry(20 * kGiB, "ide"),
            (Lines{"ddb.geometry.cylinders = \"41610\"", "ddb.geometry.heads = \"16\"",
                   "ddb.geometry.sectors = \"63\""}));
  EXPECT_EQ(geometry(20 * kGiB, "buslogic"),
            (Lines{"ddb.geometry.cylinders = \"2610\"", "ddb.geometry.heads = \"255\"",
                   "ddb.geometry.sectors = \"63\""}));
  // Under one cylinder: 0, as qemu-img writes it.
  EXPECT_EQ(geometry(1 * kMiB, "lsilogic")[0], "ddb.geometry.cylinders = \"0\"");
  // Not clamped to 16383 for IDE either.
  EXPECT_EQ(geometry(2 * kTiB - 512, "ide")[0], "ddb.geometry.cylinders = \"4260880\"");
}

TEST(VmdkDescriptorTest, OptionalFields) {
  DescriptorParams p = Params(kMiB, "pvscsi");
  p.virtual_hw_version = "21";
  p.uuid = std::array<uint8_t, 16>{0x60, 0x00, 0xc2, 0x9f, 0x28, 0x1e, 0x65, 0xbf,
                                   0x3d, 0xcc, 0x5e, 0xf0, 0xf5, 0x42, 0x1e, 0xf6};
  std::string text = MonolithicFlatDescriptor(p);
  EXPECT_EQ(LinesStartingWith(text, "ddb.uuid"),
            std::vector<std::string>{
                "ddb.uuid = \"60 00 c2 9f 28 1e 65 bf-3d cc 5e f0 f5 42 1e f6\""});
  EXPECT_EQ(LinesStartingWith(text, "ddb.virtualHWVersion"),
            std::vector<std::string>{"ddb.virtualHWVersion = \"21\""});
  EXPECT_EQ(LinesStartingWith(text, "ddb.adapterType"),
            std::vector<std::string>{"ddb.adapterType = \"pvscsi\""});
  EXPECT_TRUE(DescriptorKeepsExtent(text, text));
}

TEST(VmdkDescriptorTest, RefusesParamsThatCannotBeWritten) {
  auto refused = [](const DescriptorParams& p) {
    return !CheckDescriptorParams(p).ok() && MonolithicFlatDescriptor(p).empty();
  };
  DescriptorParams p = Params(kMiB);
  ASSERT_TRUE(CheckDescriptorParams(p).ok());
  for (uint64_t bad : {uint64_t{0}, uint64_t{1000}, kMiB + 1, ~uint64_t{0} - 511}) {
    DescriptorParams q = p;
    q.capacity_bytes = bad;
    EXPECT_TRUE(refused(q)) << bad;
  }
  for (std::string bad : {std::string(), std::string("a/b"), std::string("a\"b"),
                          std::string("a\nb"), std::string("a\\b"), std::string(".."),
                          std::string("."), std::string(256, 'x'), std::string("a\0b", 3),
                          std::string("x-parentFileNameHint-flat.vmdk")}) {
    DescriptorParams q = p;
    q.flat_file_name = bad;
    EXPECT_TRUE(refused(q)) << bad;
  }
  for (std::string bad : {"", "scsi", "LSILOGIC", "lsilogic\""}) {
    DescriptorParams q = p;
    q.adapter_type = bad;
    EXPECT_TRUE(refused(q)) << bad;
  }
  for (std::string bad : {"", "4a", "1234", "\"4"}) {
    DescriptorParams q = p;
    q.virtual_hw_version = bad;
    EXPECT_TRUE(refused(q)) << bad;
  }
  // Spaces and UTF-8 are fine in a quoted file name.
  DescriptorParams q = p;
  q.flat_file_name = "d\xc3\xa9j\xc3\xa0 vu-flat.vmdk";
  EXPECT_TRUE(CheckDescriptorParams(q).ok());
  EXPECT_TRUE(DescriptorKeepsExtent(MonolithicFlatDescriptor(q), MonolithicFlatDescriptor(q)));
}

TEST(VmdkDescriptorTest, DescriptorCidIsStableAndNeverNone) {
  const uint32_t a = DescriptorCid("iis1/disk0", 1700000000000000000ull);
  EXPECT_EQ(a, DescriptorCid("iis1/disk0", 1700000000000000000ull));
  EXPECT_NE(a, DescriptorCid("iis1/disk1", 1700000000000000000ull));
  EXPECT_NE(a, DescriptorCid("iis1/disk0", 1700000000000000001ull));
  EXPECT_NE(DescriptorCid("a", 0), DescriptorCid("", 0));
  std::set<uint32_t> seen;
  for (int vm = 0; vm < 40; ++vm) {
    for (int disk = 0; disk < 25; ++disk) {
      uint32_t cid = DescriptorCid("vm" + std::to_string(vm) + "/disk" + std::to_string(disk),
                                   static_cast<uint64_t>(vm) * 1000000007ull + disk);
      EXPECT_NE(cid, 0xffffffffu);
      seen.insert(cid);
    }
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// ---- DescriptorKeepsExtent -------------------------------------------------------------------

class KeepsExtentTest : public ::testing::Test {
 protected:
  // A 4 MiB disk's descriptor and its one extent line.
  const std::string d_ = MonolithicFlatDescriptor(Params(4 * kMiB));
  const std::string extent_ = "RW 8192 FLAT \"disk0-flat.vmdk\" 0";
};

TEST_F(KeepsExtentTest, AcceptsItselfAndCidRewrites) {
  ASSERT_NE(d_.find(extent_ + "\n"), std::string::npos) << d_;
  EXPECT_TRUE(DescriptorKeepsExtent(d_, d_));
  for (uint32_t cid : {0x0u, 0x1u, 0x9abcu, 0x2cf6f4u, 0xdeadbeefu, 0xffffffffu}) {
    for (size_t buffer : {size_t{0}, size_t{512}, size_t{10240}}) {
      std::string edited = SimulateQemuCidRewrite(d_, cid, buffer);
      EXPECT_TRUE(DescriptorKeepsExtent(d_, edited)) << cid << " " << buffer;
      // And a second rewrite on top of the first, against the first.
      EXPECT_TRUE(DescriptorKeepsExtent(edited, SimulateQemuCidRewrite(edited, cid + 1, 10240)));
    }
  }
}

TEST_F(KeepsExtentTest, AcceptsWhitespaceLineEndAndDdbChanges) {
  const std::string variants[] = {
      ToCrlf(d_),
      SimulateQemuCidRewrite(ToCrlf(d_), 0x1234, 512),
      Replace(d_, extent_, "  RW\t8192    FLAT  \"disk0-flat.vmdk\"\t0  "),
      Replace(d_, extent_ + "\n", extent_ + "\r\n"),
      Replace(d_, extent_, "RW 08192 FLAT \"disk0-flat.vmdk\" 00"),
      Replace(d_, "CID=", "CID = "),
      Replace(d_, "createType=\"monolithicFlat\"", "createType = \"monolithicFlat\"   "),
      Replace(d_, "\n\n# Extent description\n", "\n# Extent description\n\n\n"),
      d_ + "ddb.uuid = \"60 00 c2 9f 28 1e 65 bf-3d cc 5e f0 f5 42 1e f6\"\n# a comment\n",
      Replace(d_, "ddb.adapterType = \"lsilogic\"\n", "ddb.adapterType=\"ide\"\n"),
      d_.substr(0, d_.find("# The Disk Data Base")),  // DDB dropped
      d_.substr(0, d_.size() - 1),                     // no final newline
  };
  for (const std::string& edited : variants) {
    EXPECT_TRUE(DescriptorKeepsExtent(d_, edited)) << edited;
    EXPECT_TRUE(DescriptorKeepsExtent(edited, d_)) << edited;
  }
  // A comment naming createType after the key is harmless to qemu's substring search.
  EXPECT_TRUE(DescriptorKeepsExtent(d_, d_ + "# createType=\"vmfs\"\n"));
}

TEST_F(KeepsExtentTest, RefusesExtentChanges) {
  const std::string variants[] = {
      Replace(d_, extent_, "RW 8193 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 4096 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"disk1-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"/etc/passwd\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"../iis2/disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"Disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"disk0-flat.vmdk\" 1"),
      Replace(d_, extent_, "RW 8192 FLAT \"disk0-flat.vmdk\""),
      Replace(d_, extent_, "RDONLY 8192 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "NOACCESS 8192 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 VMFS \"disk0-flat.vmdk\""),
      Replace(d_, extent_, "RW 8192 ZERO"),
      Replace(d_, extent_ + "\n", ""),
      Replace(d_, extent_ + "\n", extent_ + "\nRW 100 FLAT \"other-flat.vmdk\" 0\n"),
      Replace(d_, extent_ + "\n", extent_ + "\n" + extent_ + "\n"),
      Replace(d_, extent_ + "\n", "RW 100 ZERO\n" + extent_ + "\n"),
      d_ + "RW 8 FLAT \"disk0-flat.vmdk\" 8192\n",
      Replace(d_, extent_, "# " + extent_),
  };
  for (const std::string& edited : variants) {
    EXPECT_FALSE(DescriptorKeepsExtent(d_, edited)) << edited;
  }
}

TEST_F(KeepsExtentTest, RefusesCreateTypeAndParentChanges) {
  const std::string variants[] = {
      Replace(d_, "monolithicFlat", "vmfs"),
      Replace(d_, "monolithicFlat", "twoGbMaxExtentFlat"),
      Replace(d_, "monolithicFlat", "monolithicflat"),
      Replace(d_, "createType=\"monolithicFlat\"\n", ""),
      d_ + "createType=\"monolithicFlat\"\n",          // twice
      d_ + "CreateType=\"vmfs\"\n",                      // twice, up to case
      Replace(d_, "# Disk DescriptorFile\n", "# Disk DescriptorFile\n# createType=\"vmfs\"\n"),
      d_ + "parentFileNameHint=\"/srv/other.vmdk\"\n",
      d_ + "# parentFileNameHint=\"/srv/other.vmdk\"\n",  // qemu's strstr would still find it
      d_ + "ddb.comment = \"parentFileNameHint\"\n",
  };
  for (const std::string& edited : variants) {
    EXPECT_FALSE(DescriptorKeepsExtent(d_, edited)) << edited;
  }
}

TEST_F(KeepsExtentTest, RefusesMalformedText) {
  std::string long_line = d_ + "ddb.comment = \"" + std::string(2000, 'x') + "\"\n";
  std::string huge = d_;
  while (huge.size() <= 64 * 1024) huge += "# padding padding padding padding padding\n";
  const std::string variants[] = {
      "",
      std::string(512, '\0'),
      "garbage",
      "version=1\n",
      std::string("KDMV\x01\x00\x00\x00", 8) + d_,  // a sparse header in front
      Replace(d_, "version=1\n", ""),
      Replace(d_, "version=1\n", "version=one\n"),
      Replace(d_, "version=1\n", "") + "version=1\n",  // version must come first
      Replace(d_, "CID=", "CID=xyz"),
      Replace(d_, "CID=", "CID=123456789"),
      Replace(d_, "parentCID=ffffffff\n", ""),
      Replace(d_, "CID=", "# CID="),
      d_ + "CID=1234\n",                                  // a key twice
      d_ + "ddb.adapterType = \"ide\"\n",
      Replace(d_, "ddb.adapterType = \"lsilogic\"", "ddb.adapterType = \"lsi\"logic\""),
      Replace(d_, "ddb.adapterType = \"lsilogic\"", "ddb.adapterType = \"lsilogic"),
      Replace(d_, "ddb.adapterType = \"lsilogic\"", "ddb adapterType lsilogic"),
      Replace(d_, "disk0-flat", std::string("disk0\0-flat", 11)),
      Replace(d_, "#DDB", std::string("#DDB\x01", 5)),
      Replace(d_, "#DDB\n", "#DDB\r\r\n"),
      Replace(d_, extent_, "RW -8192 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 0 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 99999999999999999999 FLAT \"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"\" 0"),
      Replace(d_, extent_, "RW 8192 FLAT \"disk0-flat.vmdk\" 0 extra"),
      Replace(d_, extent_, "RW 8192 FLAT disk0-flat.vmdk 0"),
      Replace(d_, extent_, "RW 8192 FLAT\"disk0-flat.vmdk\" 0"),
      Replace(d_, extent_, "RW 8192 flat \"disk0-flat.vmdk\" 0"),
      long_line,
      huge,
      d_ + std::string(1 << 20, '\0'),  // padding past 1 MiB
  };
  int i = 0;
  for (const std::string& edited : variants) {
    EXPECT_FALSE(DescriptorKeepsExtent(d_, edited)) << "variant " << i << ":\n" << edited;
    EXPECT_FALSE(DescriptorKeepsExtent(edited, d_)) << "variant " << i << " as original";
    ++i;
  }
  EXPECT_FALSE(DescriptorKeepsExtent("", ""));
  EXPECT_FALSE(DescriptorKeepsExtent("garbage", "garbage"));
}

TEST_F(KeepsExtentTest, RandomBytesAreRefused) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_FALSE(DescriptorKeepsExtent(d_, junk));
    EXPECT_FALSE(DescriptorKeepsExtent(junk, d_));
    // Junk lines after a valid descriptor: refused (random bytes hold control characters) -
    // up to a NUL, where qemu stops reading.
    std::string text_junk = junk;
    for (char& c : text_junk) c = c == '\0' ? '\x01' : c;
    EXPECT_FALSE(DescriptorKeepsExtent(d_, d_ + "\n" + text_junk + "\x01"));
  }
}

// qemu reads the text up to its first NUL; what follows is not part of the descriptor, whatever
// it holds, and a NUL inside the extent cuts it.
TEST_F(KeepsExtentTest, TextEndsAtTheFirstNul) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_TRUE(DescriptorKeepsExtent(d_, d_ + std::string(1, '\0') + junk));
    EXPECT_TRUE(DescriptorKeepsExtent(d_ + std::string(1, '\0') + junk, d_));
  }
  // The tail a shorter CID leaves: "...\"\n" then NUL, then the old last byte.
  EXPECT_TRUE(DescriptorKeepsExtent(d_, d_ + std::string("\0\n", 2)));
  const size_t extent_end = d_.find(extent_) + extent_.size();
  for (size_t cut = d_.find(extent_); cut < extent_end; ++cut) {
    std::string edited = d_;
    edited[cut] = '\0';
    EXPECT_FALSE(DescriptorKeepsExtent(d_, edited)) << cut;
  }
}

// Every prefix of the text: accepted only if the extent line survived whole.
TEST_F(KeepsExtentTest, TruncationsNeverLoseTheExtent) {
  for (const std::string& text : {d_, ToCrlf(d_)}) {
    for (size_t n = 0; n <= text.size(); ++n) {
      std::string prefix = text.substr(0, n);
      if (DescriptorKeepsExtent(d_, prefix)) {
        EXPECT_NE(prefix.find(extent_), std::string::npos) << n << ":\n" << prefix;
      }
    }
  }
  size_t after_extent = d_.find(extent_) + extent_.size();
  EXPECT_TRUE(DescriptorKeepsExtent(d_, d_.substr(0, after_extent)));
  EXPECT_FALSE(DescriptorKeepsExtent(d_, d_.substr(0, after_extent - 1)));
}

// Every single-bit flip: none inside the extent or createType lines is accepted.
TEST_F(KeepsExtentTest, BitFlipsNeverChangeTheExtent) {
  const size_t extent_at = d_.find(extent_);
  const size_t create_at = d_.find("createType=");
  const size_t create_end = d_.find('\n', create_at);
  int accepted = 0;
  for (size_t i = 0; i < d_.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string edited = d_;
      edited[i] = static_cast<char>(edited[i] ^ (1 << bit));
      bool keeps = DescriptorKeepsExtent(d_, edited);
      bool in_extent = i >= extent_at && i < extent_at + extent_.size();
      bool in_create_type = i >= create_at && i < create_end;
      if (in_extent || in_create_type) {
        EXPECT_FALSE(keeps) << "byte " << i << " bit " << bit << ":\n" << edited;
      }
      accepted += keeps;
    }
  }
  // Flips in values nobody maps by (CID digits, ddb values, comments) are accepted.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace rpfs::testing
