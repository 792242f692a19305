// fs/vmdk_descriptor for the exported subformats: the one generator writes the mount's
// monolithicFlat descriptor unchanged and the descriptors embedded in monolithicSparse and
// streamOptimized images (an extent line without offset, naming the image itself), and
// DescriptorKeepsExtent reads them all. (That qemu-img opens the images they sit in is
// tests/tools/vmdk_export_test.cc's part.)
#include <array>
#include <string>

#include <gtest/gtest.h>

#include "fs/vmdk/vmdk_descriptor.h"

namespace rpfs::testing {
namespace {

using fs::DescriptorKeepsExtent;
using fs::DescriptorParams;
using fs::GenerateDescriptor;
using fs::VmdkSubformat;

constexpr uint64_t kGiB = uint64_t{1} << 30;

DescriptorParams Params(const std::string& file) {
  DescriptorParams p;
  p.capacity_bytes = 20 * kGiB;
  p.flat_file_name = file;
  p.cid = 0xabcd;
  return p;
}

std::string Expected(const std::string& create_type, const std::string& extent) {
  return "# Disk DescriptorFile\n"
         "version=1\n"
         "encoding=\"UTF-8\"\n"
         "CID=0000abcd\n"
         "parentCID=ffffffff\n"
         "createType=\"" + create_type + "\"\n"
         "\n"
         "# Extent description\n" +
         extent +
         "\n"
         "\n"
         "# The Disk Data Base\n"
         "#DDB\n"
         "\n"
         "ddb.virtualHWVersion = \"4\"\n"
         "ddb.geometry.cylinders = \"2610\"\n"
         "ddb.geometry.heads = \"255\"\n"
         "ddb.geometry.sectors = \"63\"\n"
         "ddb.adapterType = \"lsilogic\"\n";
}

TEST(VmdkDescriptorSubformatTest, GoldenTexts) {
  EXPECT_EQ(GenerateDescriptor(VmdkSubformat::kMonolithicFlat, Params("disk0-flat.vmdk")),
            Expected("monolithicFlat", "RW 41943040 FLAT \"disk0-flat.vmdk\" 0"));
  EXPECT_EQ(GenerateDescriptor(VmdkSubformat::kMonolithicSparse, Params("disk0.vmdk")),
            Expected("monolithicSparse", "RW 41943040 SPARSE \"disk0.vmdk\""));
  EXPECT_EQ(GenerateDescriptor(VmdkSubformat::kStreamOptimized, Params("disk0.vmdk")),
            Expected("streamOptimized", "RW 41943040 SPARSE \"disk0.vmdk\""));
  EXPECT_EQ(fs::CreateTypeName(VmdkSubformat::kMonolithicFlat), "monolithicFlat");
  EXPECT_EQ(fs::CreateTypeName(VmdkSubformat::kMonolithicSparse), "monolithicSparse");
  EXPECT_EQ(fs::CreateTypeName(VmdkSubformat::kStreamOptimized), "streamOptimized");
}

// The mount's descriptor is the generator's monolithicFlat text, byte for byte.
TEST(VmdkDescriptorSubformatTest, MountDescriptorIsTheFlatSubformat) {
  for (uint64_t capacity : {uint64_t{512}, uint64_t{1} << 20, 20 * kGiB, 2048 * kGiB - 512}) {
    for (const char* adapter : {"ide", "lsilogic", "pvscsi"}) {
      DescriptorParams p = Params("d-flat.vmdk");
      p.capacity_bytes = capacity;
      p.adapter_type = adapter;
      p.uuid = std::array<uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
      EXPECT_EQ(fs::MonolithicFlatDescriptor(p),
                GenerateDescriptor(VmdkSubformat::kMonolithicFlat, p));
    }
  }
}

TEST(VmdkDescriptorSubformatTest, SparseTextsAreWellFormedAndTheirExtentsAreKept) {
  for (VmdkSubformat f : {VmdkSubformat::kMonolithicSparse, VmdkSubformat::kStreamOptimized}) {
    const std::string text = GenerateDescriptor(f, Params("disk0.vmdk"));
    EXPECT_TRUE(DescriptorKeepsExtent(text, text));
    std::string cid = text;
    cid.replace(cid.find("CID=0000abcd"), 12, "CID=12345678");
    EXPECT_TRUE(DescriptorKeepsExtent(text, cid));
    std::string flat = text;
    flat.replace(flat.find(" SPARSE \"disk0.vmdk\""), 20, " FLAT \"disk0.vmdk\" 0");
    EXPECT_FALSE(DescriptorKeepsExtent(text, flat));
  }
  // The two sparse subformats differ in createType only, and that difference counts.
  EXPECT_FALSE(
      DescriptorKeepsExtent(GenerateDescriptor(VmdkSubformat::kMonolithicSparse, Params("d.vmdk")),
                            GenerateDescriptor(VmdkSubformat::kStreamOptimized, Params("d.vmdk"))));
}

TEST(VmdkDescriptorSubformatTest, BadParamsGiveNoText) {
  for (VmdkSubformat f : {VmdkSubformat::kMonolithicFlat, VmdkSubformat::kMonolithicSparse,
                          VmdkSubformat::kStreamOptimized}) {
    DescriptorParams p = Params("a\"b.vmdk");
    EXPECT_EQ(GenerateDescriptor(f, p), "");
    p = Params("d.vmdk");
    p.capacity_bytes = 1000;
    EXPECT_EQ(GenerateDescriptor(f, p), "");
  }
}

}  // namespace
}  // namespace rpfs::testing
