// Journal::AppendRun: the blocks of one write call appended under one lock.
// Runs short (through the segment's buffer) and long (straight to the file)
// read back record by record, contiguous and in order, across segment rolls,
// plain and sealed; recovery after a reopen replays each record once, in
// order; a run that meets a full file system appends nothing of the
// stretch that failed, leaves no torn record, and names the file.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "journal/data_key.h"
#include "journal/journal.h"
#include "journal/payload_sealer.h"
#include "tests/test_support.h"

namespace rpfs::journal {
namespace {

using rpfs::testing::TempDir;

constexpr uint32_t kBs = 4096;

struct WriteCall {
  std::vector<RecordHeader> headers;
  std::vector<std::string> payloads;
  std::vector<const void*> Ptrs() const {
    std::vector<const void*> out;
    for (const std::string& p : payloads) out.push_back(p.data());
    return out;
  }
};

// n blocks of one write call with seq `seq`: random payloads, some
// shorter (as compressed blocks are), some empty (zero blocks).
WriteCall MakeRun(size_t n, uint64_t seq, uint32_t seed) {
  WriteCall r;
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) {
    RecordHeader h;
    h.type = RecordType::kWrite;
    h.length = kBs;
    h.seq = seq;
    h.time_ns = 1000 + seq;
    h.disk = 1;
    h.branch = 1;
    h.offset = i * kBs;
    uint32_t len = kBs;
    if (i % 7 == 3) {
      len = 0;
      h.flags = kZero;
    } else if (i % 5 == 1) {
      len = 100 + rng() % 2000;
      h.flags = kZstd;  // the journal does not look inside
    }
    if (i + 1 < n) h.flags |= kContinued;
    h.payload_len = len;
    std::string p(len, '\0');
    for (char& c : p) c = static_cast<char>(rng());
    r.headers.push_back(h);
    r.payloads.push_back(std::move(p));
  }
  return r;
}

class AppendRunTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    opts_.max_segment_bytes = 256 << 10;
    if (GetParam()) {
      DataKey k;
      for (size_t i = 0; i < kDataKeySize; ++i) k.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
      opts_.sealer = std::make_shared<PayloadSealer>(k.bytes, 1);
    }
    id_.bytes[0] = 42;
  }
  std::string Dir() const { return dir_ / "j"; }

  void Append(Journal& j, const WriteCall& r, std::vector<RecordLocation>* locs) {
    locs->resize(r.headers.size());
    size_t appended = 99;
    ASSERT_TRUE(j.AppendRun(r.headers.data(), r.Ptrs().data(), r.headers.size(), locs->data(),
                            &appended).ok());
    ASSERT_EQ(r.headers.size(), appended);
  }
  void ExpectReads(Journal& j, const WriteCall& r, const std::vector<RecordLocation>& locs,
                   const std::string& what) {
    for (size_t i = 0; i < locs.size(); ++i) {
      RecordHeader h;
      std::string rec;
      ASSERT_TRUE(j.Read(locs[i], &h, &rec).ok()) << what << " record " << i;
      EXPECT_EQ(r.headers[i].seq, h.seq);
      EXPECT_EQ(r.headers[i].offset, h.offset) << what << " record " << i;
      EXPECT_EQ(r.headers[i].flags, h.flags) << what << " record " << i;
      ASSERT_TRUE(r.payloads[i] == rec.substr(kRecordHeaderSize)) << what << " record " << i;
    }
  }
  // Records that follow each other in one segment lie back to back.
  void ExpectContiguous(const std::vector<RecordLocation>& locs, size_t* segments) {
    *segments = 1;
    for (size_t i = 1; i < locs.size(); ++i) {
      if (locs[i].segment != locs[i - 1].segment) {
        EXPECT_EQ(locs[i - 1].segment + 1, locs[i].segment);
        EXPECT_EQ(kSegmentHeaderSize, locs[i].offset);
        ++*segments;
      } else {
        EXPECT_EQ(locs[i - 1].offset + locs[i - 1].size, locs[i].offset) << "record " << i;
      }
    }
  }

  TempDir dir_;
  JournalOptions opts_;
  VaultId id_;
};

TEST_P(AppendRunTest, ShortAndLongRunsReadBackInOrderAcrossRollsAndAfterRecovery) {
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Create(Dir(), id_, opts_, &j).ok());
  // 8 blocks (buffered), 256 (a 1 MiB write: straight to the file, over
  // four or five 256 KiB segments), 3 more buffered after it.
  std::vector<WriteCall> runs = {MakeRun(8, 1, 1), MakeRun(256, 2, 2), MakeRun(3, 3, 3)};
  std::vector<std::vector<RecordLocation>> locs(runs.size());
  for (size_t k = 0; k < runs.size(); ++k) ASSERT_NO_FATAL_FAILURE(Append(*j, runs[k], &locs[k]));
  size_t segments;
  ExpectContiguous(locs[1], &segments);
  EXPECT_GE(segments, 4u) << "the long run did not cross segments";
  EXPECT_EQ(locs[0].back().offset + locs[0].back().size, locs[1].front().offset)
      << "the long run does not follow the buffered records";
  for (size_t k = 0; k < runs.size(); ++k) ExpectReads(*j, runs[k], locs[k], "run " + std::to_string(k));
  ASSERT_TRUE(j->Sync().ok());
  j.reset();

  // Recovery replays every record once, in order, with the same bytes.
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // seq, offset
  RecoveryReport report;
  ASSERT_TRUE(Journal::Open(Dir(), id_, opts_, JournalPos{1, kSegmentHeaderSize}, 0, {},
                            [&](const RecordHeader& h, const std::string& payload,
                                const RecordLocation&) {
                              const WriteCall& r = runs[h.seq - 1];
                              EXPECT_TRUE(r.payloads[h.offset / kBs] == payload) << h.offset;
                              seen.emplace_back(h.seq, h.offset);
                              return Status::OK();
                            },
                            &report, &j)
                  .ok());
  EXPECT_EQ(0u, report.dropped_bytes);
  ASSERT_EQ(8u + 256u + 3u, seen.size());
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]) << i;
  for (size_t k = 0; k < runs.size(); ++k) ExpectReads(*j, runs[k], locs[k], "reopened run " + std::to_string(k));
}

TEST_P(AppendRunTest, ARunIntoAFullFileSystemLeavesNoTornRecord) {
  const std::string fs = dir_ / "fs";
  ASSERT_EQ(0, ::mkdir(fs.c_str(), 0755));
  ASSERT_EQ(0, ::mount("tmpfs", fs.c_str(), "tmpfs", 0, "size=1m")) << std::strerror(errno);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount(p.c_str()); }
  } unmount{fs};
  opts_.max_segment_bytes = 64 << 20;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Create(fs + "/j", id_, opts_, &j).ok());
  std::vector<RecordLocation> first;
  WriteCall small = MakeRun(16, 1, 1);
  ASSERT_NO_FATAL_FAILURE(Append(*j, small, &first));
  ASSERT_TRUE(j->Sync().ok());
  // 512 blocks: 2 MiB into a 1 MiB file system.
  WriteCall big = MakeRun(512, 2, 2);
  std::vector<RecordLocation> locs(big.headers.size());
  size_t appended = 99;
  Status s = j->AppendRun(big.headers.data(), big.Ptrs().data(), big.headers.size(), locs.data(),
                          &appended);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(std::string::npos, s.ToString().find("00000001.seg")) << s.ToString();
  EXPECT_EQ(0u, appended);
  // What was there reads back, and the journal takes records again.
  ExpectReads(*j, small, first, "before the full run");
  WriteCall after = MakeRun(4, 3, 3);
  std::vector<RecordLocation> after_locs;
  ASSERT_NO_FATAL_FAILURE(Append(*j, after, &after_locs));
  EXPECT_EQ(first.back().offset + first.back().size, after_locs.front().offset)
      << "the failed run left bytes behind";
  ASSERT_TRUE(j->Sync().ok());
  j.reset();
  size_t replayed = 0;
  RecoveryReport report;
  ASSERT_TRUE(Journal::Open(fs + "/j", id_, opts_, JournalPos{1, kSegmentHeaderSize}, 0, {},
                            [&](const RecordHeader& h, const std::string&, const RecordLocation&) {
                              EXPECT_NE(2u, h.seq) << "a record of the failed run came back";
                              ++replayed;
                              return Status::OK();
                            },
                            &report, &j)
                  .ok());
  EXPECT_EQ(0u, report.dropped_bytes) << report.dropped_where;
  EXPECT_EQ(16u + 4u, replayed);
}

INSTANTIATE_TEST_SUITE_P(PlainAndSealed, AppendRunTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sealed" : "Plain"; });

}  // namespace
}  // namespace rpfs::journal
