// SegmentWriter and SegmentReader: round trip, and every kind of damage
// (tear at each byte, flip of each byte) is caught, never misread.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>

#include "journal/segment_reader.h"
#include "journal/segment_writer.h"
#include "tests/test_support.h"

namespace rpfs::journal {
namespace {

using rpfs::testing::CacheState;
using rpfs::testing::CacheStat;
using rpfs::testing::TempDir;

struct Written {
  RecordHeader h;
  std::string payload;
  uint64_t offset;
};

std::vector<Written> WriteSegment(const std::string& path, int n) {
  SegmentHeader sh;
  sh.segment = 1;
  sh.first_seq = 1;
  std::unique_ptr<SegmentWriter> w;
  EXPECT_TRUE(SegmentWriter::Create(path, sh, &w).ok());
  std::mt19937 rng(7);
  std::vector<Written> out;
  for (int i = 0; i < n; ++i) {
    Written r;
    r.payload.resize(rng() % 300);
    for (auto& c : r.payload) c = static_cast<char>(rng());
    r.h.type = RecordType::kWrite;
    r.h.payload_len = static_cast<uint32_t>(r.payload.size());
    r.h.length = 4096;
    r.h.seq = static_cast<uint64_t>(i + 1);
    r.h.time_ns = 1000u + i;
    r.h.disk = 3;
    r.h.branch = 1;
    r.h.offset = 4096ull * i;
    EXPECT_TRUE(w->Append(r.h, r.payload.data(), &r.offset).ok());
    out.push_back(r);
  }
  EXPECT_TRUE(w->Sync().ok());
  return out;
}

struct Scan {
  std::vector<RecordHeader> records;
  SegmentReader::Result end;
  uint64_t stop;
};

Scan ReadAll(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  Scan s;
  SegmentReader r(fd, static_cast<uint64_t>(::lseek(fd, 0, SEEK_END)), kSegmentHeaderSize);
  RecordHeader h;
  std::string payload, why;
  uint64_t off;
  while ((s.end = r.Next(&h, &payload, &off, &why)) == SegmentReader::Result::kRecord) {
    s.records.push_back(h);
  }
  s.stop = r.offset();
  ::close(fd);
  return s;
}

TEST(Segment, RoundTrip) {
  TempDir dir;
  auto written = WriteSegment(dir / "00000001.seg", 50);
  int fd = ::open((dir / "00000001.seg").c_str(), O_RDONLY);
  SegmentHeader sh;
  ASSERT_TRUE(ReadSegmentHeader(fd, "00000001.seg", &sh).ok());
  EXPECT_EQ(1u, sh.segment);
  for (const Written& w : written) {
    RecordHeader h;
    std::string record;
    ASSERT_TRUE(ReadRecordAt(fd, 1, w.offset,
                             static_cast<uint32_t>(kRecordHeaderSize + w.payload.size()), &h,
                             &record).ok());
    EXPECT_EQ(w.h.seq, h.seq);
    EXPECT_EQ(w.h.offset, h.offset);
    EXPECT_EQ(w.payload, record.substr(kRecordHeaderSize));
    ASSERT_TRUE(ReadRecordAt(fd, 1, w.offset, 0, &h, &record).ok());  // size unknown
    EXPECT_EQ(w.payload, record.substr(kRecordHeaderSize));
  }
  ::close(fd);
  Scan s = ReadAll(dir / "00000001.seg");
  EXPECT_EQ(SegmentReader::Result::kEnd, s.end);
  EXPECT_EQ(written.size(), s.records.size());
}

// A roll hands the old segment's buffer to the new one only once both are
// flushed: records still buffered in either stay where they belong.
TEST(Segment, BuffersAreSwappedOnlyWhenBothAreEmpty) {
  TempDir dir;
  SegmentHeader sh;
  sh.first_seq = 1;
  std::unique_ptr<SegmentWriter> a, b;
  sh.segment = 1;
  ASSERT_TRUE(SegmentWriter::Create(dir / "00000001.seg", sh, &a).ok());
  sh.segment = 2;
  ASSERT_TRUE(SegmentWriter::Create(dir / "00000002.seg", sh, &b).ok());
  RecordHeader h;
  h.type = RecordType::kWrite;
  h.length = 4096;
  const std::string pa(100, 'a'), pb(200, 'b');
  uint64_t off;
  h.payload_len = static_cast<uint32_t>(pa.size());
  h.seq = 1;
  ASSERT_TRUE(a->Append(h, pa.data(), &off).ok());
  b->SwapEmptyBuffer(a.get());  // a holds a record: nothing moves
  ASSERT_TRUE(a->Flush().ok());
  b->SwapEmptyBuffer(a.get());  // both empty: a's buffer is b's now
  h.payload_len = static_cast<uint32_t>(pb.size());
  h.seq = 2;
  ASSERT_TRUE(b->Append(h, pb.data(), &off).ok());
  std::string got(pb.size(), '\0');
  EXPECT_TRUE(b->ReadBuffered(off + kRecordHeaderSize, pb.size(), got.data()));
  EXPECT_EQ(pb, got);
  a->SwapEmptyBuffer(b.get());  // b holds a record: nothing moves
  ASSERT_TRUE(a->Sync().ok());
  ASSERT_TRUE(b->Sync().ok());
  Scan sa = ReadAll(dir / "00000001.seg"), sb = ReadAll(dir / "00000002.seg");
  ASSERT_EQ(1u, sa.records.size());
  EXPECT_EQ(1u, sa.records[0].seq);
  EXPECT_EQ(SegmentReader::Result::kEnd, sa.end);
  ASSERT_EQ(1u, sb.records.size());
  EXPECT_EQ(2u, sb.records[0].seq);
  EXPECT_EQ(SegmentReader::Result::kEnd, sb.end);
}

TEST(Segment, FlushedBytesAreWrittenBehindWithoutASync) {
  // Appends 2.5 write-behind stretches and flushes without a sync: all
  // but the last part-stretch (and the buffer it ended on) must already
  // be with writeback, not dirty, so a Sync or seal owes little.
  TempDir dir;
  const std::string path = dir / "00000001.seg";
  SegmentHeader sh;
  sh.segment = 1;
  sh.first_seq = 1;
  std::unique_ptr<SegmentWriter> w;
  ASSERT_TRUE(SegmentWriter::Create(path, sh, &w).ok());
  RecordHeader h;
  h.type = RecordType::kWrite;
  h.length = 4096;
  const std::string payload(60 << 10, 'w');
  h.payload_len = static_cast<uint32_t>(payload.size());
  uint64_t off;
  for (h.seq = 1; w->size() < 5 * SegmentWriter::kWriteBehindBytes / 2; ++h.seq) {
    ASSERT_TRUE(w->Append(h, payload.data(), &off).ok());
  }
  ASSERT_TRUE(w->Flush().ok());
  const uint64_t size = w->size();
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  CacheState before = CacheStat(path, size);
  EXPECT_EQ((size + page - 1) / page, before.cached) << "all of it is in the page cache";
  // Not handed over yet: at most a stretch and a buffer's worth.
  const uint64_t owed_pages = (SegmentWriter::kWriteBehindBytes + (1 << 20) + (64 << 10)) / page;
  EXPECT_LE(before.dirty, owed_pages) << "of " << before.cached << " pages; "
                                      << before.writeback << " under writeback";
  ASSERT_TRUE(w->Sync().ok());
  CacheState after = CacheStat(path, size);
  EXPECT_EQ(0u, after.dirty);
  EXPECT_EQ(0u, after.writeback);
}

TEST(Segment, TearAtEveryByteKeepsExactlyTheWholeRecords) {
  TempDir dir;
  std::string path = dir / "00000001.seg";
  auto written = WriteSegment(path, 6);
  std::string whole = rpfs::testing::ReadFile(path);
  for (uint64_t cut = kSegmentHeaderSize; cut <= whole.size(); ++cut) {
    rpfs::testing::WriteFile(path, whole.substr(0, cut));
    Scan s = ReadAll(path);
    size_t complete = 0;
    for (const Written& w : written) {
      if (w.offset + kRecordHeaderSize + w.payload.size() <= cut) ++complete;
    }
    ASSERT_EQ(complete, s.records.size()) << "cut at " << cut;
    bool at_boundary = complete == written.size() || written[complete].offset == cut;
    EXPECT_EQ(at_boundary ? SegmentReader::Result::kEnd : SegmentReader::Result::kBad, s.end)
        << "cut at " << cut;
  }
}

TEST(Segment, EveryFlippedByteIsCaught) {
  TempDir dir;
  std::string path = dir / "00000001.seg";
  auto written = WriteSegment(path, 4);
  std::string whole = rpfs::testing::ReadFile(path);
  for (uint64_t at = kSegmentHeaderSize; at < whole.size(); ++at) {
    std::string bad = whole;
    bad[at] = static_cast<char>(bad[at] ^ (1 << (at % 8)));
    rpfs::testing::WriteFile(path, bad);
    Scan s = ReadAll(path);
    // The damaged record and everything after it are refused.
    size_t damaged = 0;
    while (damaged + 1 < written.size() && written[damaged + 1].offset <= at) ++damaged;
    EXPECT_EQ(SegmentReader::Result::kBad, s.end) << "flip at " << at;
    EXPECT_EQ(damaged, s.records.size()) << "flip at " << at;
    EXPECT_EQ(written[damaged].offset, s.stop);
  }
}

TEST(Segment, HeaderDamageIsCorruption) {
  TempDir dir;
  std::string path = dir / "00000001.seg";
  WriteSegment(path, 1);
  for (uint64_t at = 0; at < kSegmentHeaderSize; ++at) {
    rpfs::testing::FlipBit(path, at, 3);
    int fd = ::open(path.c_str(), O_RDONLY);
    SegmentHeader sh;
    Status s = ReadSegmentHeader(fd, "00000001.seg", &sh);
    ::close(fd);
    EXPECT_TRUE(s.IsCorruption()) << "flip at " << at;
    EXPECT_NE(std::string::npos, s.message().find("00000001.seg")) << s.message();
    rpfs::testing::FlipBit(path, at, 3);
  }
}

TEST(Segment, LengthFieldIsBoundsCheckedBeforeUse) {
  TempDir dir;
  std::string path = dir / "00000001.seg";
  auto written = WriteSegment(path, 2);
  // A payload length of 4 GiB - 1 must be refused, not allocated.
  int fd = ::open(path.c_str(), O_RDWR);
  uint8_t len[4] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(4, ::pwrite(fd, len, 4, static_cast<off_t>(written[1].offset + 8)));
  ::close(fd);
  Scan s = ReadAll(path);
  EXPECT_EQ(1u, s.records.size());
  EXPECT_EQ(SegmentReader::Result::kBad, s.end);
}

}  // namespace
}  // namespace rpfs::journal
