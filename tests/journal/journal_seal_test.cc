// Deferred seals: a segment is sealed at a roll without waiting for its
// fdatasync (the journal's sealer thread does it). These tests stage what a crash can leave behind (the sealed
// segment's tail missing, the newest segment empty or not) and check that
// Open cuts exactly the unsynced tail, or refuses with the place named
// when newer records reached the disk past a gap.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "journal/journal.h"
#include "journal/record_format.h"
#include "tests/test_support.h"

namespace rpfs::journal {
namespace {

using rpfs::testing::FileSize;
using rpfs::testing::FlipBit;
using rpfs::testing::ReadFile;
using rpfs::testing::TempDir;
using rpfs::testing::TruncateFile;
using rpfs::testing::WriteFile;

constexpr size_t kPayload = 1000;
constexpr uint64_t kRecord = kRecordHeaderSize + kPayload;

struct Staged {
  TempDir tmp;
  std::string dir;
  VaultId id;
  std::vector<RecordLocation> locs;  // one per seq, seq = index + 1
};

// Appends records (one per seq) until the journal has rolled into segment
// 2 and put `in_second` records there; returns with the journal closed.
void Stage(Staged* s, int in_second) {
  s->dir = s->tmp.path() + "/journal";
  s->id.bytes[0] = 7;
  JournalOptions o;
  o.max_segment_bytes = 16 * 1024;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Create(s->dir, s->id, o, &j).ok());
  std::string payload(kPayload, 'x');
  int second = 0;
  for (uint64_t seq = 1; second < in_second || j->Segments().size() < 2; ++seq) {
    RecordHeader h;
    h.type = RecordType::kWrite;
    h.payload_len = kPayload;
    h.length = kPayload;
    h.seq = seq;
    payload[0] = static_cast<char>(seq);
    RecordLocation loc;
    ASSERT_TRUE(j->Append(h, payload.data(), &loc).ok());
    s->locs.push_back(loc);
    if (loc.segment == 2) ++second;
    ASSERT_LE(loc.segment, 2u);
  }
  ASSERT_TRUE(j->Sync().ok());
}

Status Reopen(Staged* s, RecoveryReport* report, std::unique_ptr<Journal>* j) {
  JournalOptions o;
  o.max_segment_bytes = 16 * 1024;
  return Journal::Open(s->dir, s->id, o, JournalPos{}, 0, {}, [](auto&, auto&, auto&) { return Status::OK(); },
                       report, j);
}

std::string Seg(const Staged& s, uint32_t n) { return s.dir + "/" + SegmentFileName(n); }

// Reopens after a crash that costs the newest segment (2): recovery
// succeeds, segment 1 is all that is left and segment 2's file is gone.
void ReopenWithoutTheNewest(Staged* s, RecoveryReport* r, std::unique_ptr<Journal>* j) {
  Status st = Reopen(s, r, j);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ((*j)->Segments(), std::vector<uint32_t>{1});
  EXPECT_FALSE(std::filesystem::exists(Seg(*s, 2)));
}

uint64_t LastSeqIn(const Staged& s, uint32_t segment) {
  uint64_t last = 0;
  for (size_t i = 0; i < s.locs.size(); ++i) {
    if (s.locs[i].segment == segment) last = i + 1;
  }
  return last;
}

TEST(JournalSeal, TornSealedTailWithEmptyNewestIsCutAndTheNewestGoes) {
  Staged s;
  Stage(&s, 1);
  const uint64_t sealed_size = FileSize(Seg(s, 1));
  // Crash before the seal was durable: the sealed segment lost the last
  // half record, the newest segment kept only its header.
  TruncateFile(Seg(s, 1), sealed_size - kRecord / 2);
  TruncateFile(Seg(s, 2), kSegmentHeaderSize);
  RecoveryReport r;
  std::unique_ptr<Journal> j;
  ASSERT_NO_FATAL_FAILURE(ReopenWithoutTheNewest(&s, &r, &j));
  EXPECT_EQ(r.last_seq, LastSeqIn(s, 1) - 1);
  EXPECT_EQ(r.end.segment, 1u);
  EXPECT_EQ(r.end.offset, sealed_size - kRecord);
  EXPECT_NE(r.dropped_where.find("segment 00000001.seg offset " + std::to_string(sealed_size - kRecord)),
            std::string::npos)
      << r.dropped_where;
  // The journal goes on: the next records land in segment 1, then roll.
  std::string payload(kPayload, 'y');
  for (uint64_t seq = r.last_seq + 1; seq < r.last_seq + 40; ++seq) {
    RecordHeader h;
    h.type = RecordType::kWrite;
    h.payload_len = kPayload;
    h.length = kPayload;
    h.seq = seq;
    RecordLocation loc;
    ASSERT_TRUE(j->Append(h, payload.data(), &loc).ok());
    RecordHeader got;
    std::string rec;
    ASSERT_TRUE(j->Read(loc, &got, &rec).ok());
    EXPECT_EQ(got.seq, seq);
  }
  EXPECT_EQ(j->Segments().size(), 4u);
  ASSERT_TRUE(j->Sync().ok());
}

TEST(JournalSeal, TornSealedTailWhileTheNewestHoldsRecordsIsCorruption) {
  Staged s;
  Stage(&s, 2);
  const uint64_t sealed_size = FileSize(Seg(s, 1));
  TruncateFile(Seg(s, 1), sealed_size - 10);
  RecoveryReport r;
  std::unique_ptr<Journal> j;
  Status st = Reopen(&s, &r, &j);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("segment 00000001.seg offset " + std::to_string(sealed_size - kRecord)),
            std::string::npos)
      << st.message();
}

TEST(JournalSeal, SealedSegmentEndingEarlyBeforeNewerRecordsIsCorruption) {
  Staged s;
  Stage(&s, 2);
  // Whole records missing at the end of the sealed segment (its size never
  // reached the disk), yet the newest segment's records did.
  TruncateFile(Seg(s, 1), FileSize(Seg(s, 1)) - 2 * kRecord);
  RecoveryReport r;
  std::unique_ptr<Journal> j;
  Status st = Reopen(&s, &r, &j);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("segment 00000002.seg offset 0: starts at seq"), std::string::npos)
      << st.message();
}

TEST(JournalSeal, SealedSegmentEndingEarlyWithEmptyNewestOpens) {
  Staged s;
  Stage(&s, 1);
  TruncateFile(Seg(s, 1), FileSize(Seg(s, 1)) - 2 * kRecord);
  TruncateFile(Seg(s, 2), kSegmentHeaderSize);
  RecoveryReport r;
  std::unique_ptr<Journal> j;
  Status st = Reopen(&s, &r, &j);
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The newest segment's header names the next seq; everything before the
  // cut reads back.
  EXPECT_EQ(r.last_seq, LastSeqIn(s, 1));
  for (uint64_t seq = 1; seq <= LastSeqIn(s, 1) - 2; ++seq) {
    RecordHeader h;
    std::string rec;
    ASSERT_TRUE(j->Read(s.locs[seq - 1], &h, &rec).ok()) << seq;
    EXPECT_EQ(h.seq, seq);
  }
}

// A roll does not sync the new segment, so a crash can leave it with its
// size on the disk but not its header: zeros. It held nothing synced and
// goes; a header that is there but wrong is still corruption.
TEST(JournalSeal, NewestSegmentWhoseHeaderNeverReachedTheDiskGoes) {
  Staged s;
  Stage(&s, 1);
  std::string newest = ReadFile(Seg(s, 2));
  newest.replace(0, kSegmentHeaderSize, kSegmentHeaderSize, '\0');
  WriteFile(Seg(s, 2), newest);
  RecoveryReport r;
  std::unique_ptr<Journal> j;
  ASSERT_NO_FATAL_FAILURE(ReopenWithoutTheNewest(&s, &r, &j));
  EXPECT_EQ(r.last_seq, LastSeqIn(s, 1));
  EXPECT_NE(r.dropped_where.find("segment 00000002.seg offset 0: segment header torn"),
            std::string::npos)
      << r.dropped_where;
  j.reset();

  Staged t;
  Stage(&t, 1);
  FlipBit(Seg(t, 2), 0, 0);  // the magic, damaged
  Status st = Reopen(&t, &r, &j);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_TRUE(std::filesystem::exists(Seg(t, 2)));
}

TEST(JournalSeal, IntactJournalAcrossManyRollsReopensWhole) {
  Staged s;
  Stage(&s, 3);
  RecoveryReport r;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Reopen(&s, &r, &j).ok());
  EXPECT_EQ(r.dropped_bytes, 0u);
  EXPECT_EQ(r.last_seq, s.locs.size());
  for (size_t i = 0; i < s.locs.size(); ++i) {
    RecordHeader h;
    std::string rec;
    ASSERT_TRUE(j->Read(s.locs[i], &h, &rec).ok()) << i;
    EXPECT_EQ(h.seq, i + 1);
    EXPECT_EQ(rec[kRecordHeaderSize], static_cast<char>(i + 1));
  }
}

// Two appenders (taking turns, as the vault's writers do), a syncer and a
// reader at once, over hundreds of rolls: appends wait for the sealer
// only when a second seal would be owed; everything reads back while the
// segments come and go, and after a reopen.
TEST(JournalSeal, RollsWhileSyncingAndReadingFromOtherThreads) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/journal";
  VaultId id;
  id.bytes[0] = 9;
  JournalOptions o;
  o.max_segment_bytes = 16 * 1024;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Create(dir, id, o, &j).ok());
  constexpr uint64_t kRecords = 6000;
  std::vector<RecordLocation> locs(kRecords);
  std::mutex append_mu;
  uint64_t next_seq = 1;
  std::atomic<uint64_t> appended{0};
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  auto appender = [&] {
    std::string payload(kPayload, 'x');
    for (;;) {
      std::lock_guard<std::mutex> l(append_mu);
      if (next_seq > kRecords) return;
      RecordHeader h;
      h.type = RecordType::kWrite;
      h.payload_len = kPayload;
      h.length = kPayload;
      h.seq = next_seq;
      payload[0] = static_cast<char>(h.seq);
      if (!j->Append(h, payload.data(), &locs[h.seq - 1]).ok()) ++failures;
      appended.store(next_seq++, std::memory_order_release);
    }
  };
  std::thread a1(appender), a2(appender);
  std::thread syncer([&] {
    while (!stop.load()) {
      if (!j->Sync().ok()) ++failures;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::thread reader([&] {
    std::mt19937 rng(3);
    RecordHeader h;
    std::string rec;
    while (!stop.load()) {
      uint64_t n = appended.load(std::memory_order_acquire);
      if (n == 0) continue;
      uint64_t seq = 1 + rng() % n;
      if (!j->Read(locs[seq - 1], &h, &rec).ok() || h.seq != seq ||
          rec[kRecordHeaderSize] != static_cast<char>(seq)) {
        ++failures;
      }
    }
  });
  a1.join();
  a2.join();
  stop = true;
  syncer.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(j->Segments().size(), 300u);
  ASSERT_TRUE(j->Sync().ok());
  j.reset();

  RecoveryReport r;
  ASSERT_TRUE(Journal::Open(dir, id, o, JournalPos{}, 0, {},
                            [](auto&, auto&, auto&) { return Status::OK(); }, &r, &j)
                  .ok());
  EXPECT_EQ(r.dropped_bytes, 0u);
  EXPECT_EQ(r.last_seq, kRecords);
  for (uint64_t seq = 1; seq <= kRecords; ++seq) {
    RecordHeader h;
    std::string rec;
    ASSERT_TRUE(j->Read(locs[seq - 1], &h, &rec).ok()) << seq;
    ASSERT_EQ(h.seq, seq);
    ASSERT_EQ(rec[kRecordHeaderSize], static_cast<char>(seq));
  }
}

}  // namespace
}  // namespace rpfs::journal
