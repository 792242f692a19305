// One flipped bit anywhere in a sealed segment: `rpfs verify` exits 2
// naming the segment and the damaged record's offset, and reading the
// block that record holds fails instead of returning wrong bytes.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "catalog/vault.h"
#include "journal/segment_reader.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

struct RecordSpan {
  uint64_t offset, size;
  journal::RecordHeader h;
};

TEST(VaultCorruption, FlippedBitInSealedSegmentIsFoundAndNeverMisread) {
  TempDir dir;
  std::string tmpl = dir / "template";
  {
    VaultOptions vo;
    vo.max_segment_bytes = 1 << 20;
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Create(tmpl, vo, OpenOptions(), &v).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v->CreateGroup(g).ok());
    Disk d;
    ASSERT_TRUE(v->CreateDisk("vm/d", 4 << 20, "g", &d).ok());
    std::mt19937 rng(3);
    // Mixed compressible and random, never all-zero, until segment 2 exists.
    while (v->journal().Segments().size() < 2) {
      std::string data(4096 * (1 + rng() % 4), '\0');
      bool random = rng() % 2;
      for (size_t i = 0; i < data.size(); ++i) {
        data[i] = random ? static_cast<char>(rng()) : static_cast<char>('a' + (i / 50) % 7);
      }
      uint64_t off = 4096 * (rng() % 1000);
      ASSERT_TRUE(v->Write(d.id, off, data.data(), data.size()).ok());
    }
  }
  const std::string seg_name = journal::SegmentFileName(1);
  // Map the sealed segment's records.
  std::vector<RecordSpan> records;
  {
    int fd = ::open((tmpl + "/journal/" + seg_name).c_str(), O_RDONLY);
    uint64_t size = static_cast<uint64_t>(::lseek(fd, 0, SEEK_END));
    journal::SegmentReader r(fd, size, journal::kSegmentHeaderSize);
    journal::RecordHeader h;
    std::string payload, why;
    uint64_t off;
    while (r.Next(&h, &payload, &off, &why) == journal::SegmentReader::Result::kRecord) {
      records.push_back({off, journal::kRecordHeaderSize + h.payload_len, h});
    }
    ::close(fd);
    ASSERT_EQ(size, r.offset());
  }
  ASSERT_GT(records.size(), 100u);
  const uint64_t seg_size = records.back().offset + records.back().size;

  std::mt19937_64 rng(99);
  std::vector<uint64_t> positions = {0, 8, 20, 63};  // segment header fields
  for (int i = 0; i < 5; ++i) {  // each field of a record header
    const RecordSpan& r = records[rng() % records.size()];
    for (uint64_t f : {0, 4, 5, 8, 12, 16, 24, 32, 36, 40}) positions.push_back(r.offset + f);
    if (r.size > journal::kRecordHeaderSize) positions.push_back(r.offset + r.size - 1);
  }
  for (int i = 0; i < 20; ++i) positions.push_back(journal::kSegmentHeaderSize + rng() % (seg_size - 64));

  for (uint64_t pos : positions) {
    std::string copy = dir / ("flip" + std::to_string(pos));
    rpfs::testing::CopyTree(tmpl, copy);
    int bit = static_cast<int>(rng() % 8);
    rpfs::testing::FlipBit(copy + "/journal/" + seg_name, pos, bit);

    auto res = rpfs::testing::RunRpfs({"--vault", copy, "verify"});
    EXPECT_EQ(2, res.exit_code) << "flip at " << pos << ": " << res.out << res.err;
    const RecordSpan* hit = nullptr;
    for (const RecordSpan& r : records) {
      if (pos >= r.offset && pos < r.offset + r.size) hit = &r;
    }
    uint64_t named = hit ? hit->offset : 0;
    EXPECT_NE(std::string::npos,
              res.err.find("segment " + seg_name + " offset " + std::to_string(named)))
        << "flip at " << pos << " bit " << bit << ": " << res.err;

    if (hit != nullptr) {
      std::unique_ptr<Vault> v;
      ASSERT_TRUE(Vault::Open(copy, OpenOptions(), &v).ok());
      std::string buf(4096, '\0');
      Status s = v->Read(hit->h.disk, View{hit->h.branch, hit->h.seq}, hit->h.offset, 4096, buf.data());
      EXPECT_FALSE(s.ok()) << "flip at " << pos << " read returned data";
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      EXPECT_NE(std::string::npos, s.message().find(seg_name)) << s.message();
    }
    std::filesystem::remove_all(copy);
  }
}

}  // namespace
}  // namespace rpfs::catalog
