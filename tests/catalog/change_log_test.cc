// ChangeLog: "which blocks did (disk, branch) write in seqs (lo, hi]"
// answered from rows written at each flush plus the in-memory tables,
// agreeing with a brute-force model across many flushes; truncation after
// a cut journal; rebuilding the log of a vault that predates it.
#include "catalog/change_log.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "catalog/block_map.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

class ChangeLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Env::Open(dir_.path(), Env::Options(), &env_).ok());
    ASSERT_TRUE(env_->OpenDb("blocks", &blocks_).ok());
    ASSERT_TRUE(env_->OpenDb("changes", &changes_).ok());
    map_ = std::make_unique<BlockMap>(env_.get(), blocks_, changes_);
  }
  void Add(uint32_t disk, uint32_t branch, uint64_t block, uint64_t seq) {
    BlockVersion v;
    v.seq = seq;
    v.loc = journal::RecordLocation{1, static_cast<uint32_t>(seq), 100};
    map_->Add(BlockKey{disk, branch, block, seq}, v);
    model_.push_back({disk, branch, block, seq});
  }
  std::vector<uint64_t> Model(uint32_t disk, uint32_t branch, uint64_t lo, uint64_t hi) {
    std::set<uint64_t> s;
    for (const BlockKey& k : model_) {
      if (k.disk == disk && k.branch == branch && k.seq > lo && k.seq <= hi) s.insert(k.block);
    }
    return {s.begin(), s.end()};
  }
  std::vector<uint64_t> Changed(uint32_t disk, uint32_t branch, uint64_t lo, uint64_t hi) {
    std::vector<uint64_t> out;
    Status s = map_->ChangedBlocks(disk, branch, lo, hi, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  Status Flush() { return map_->Flush([](Txn&) { return Status::OK(); }); }

  TempDir dir_;
  std::unique_ptr<Env> env_;
  MDB_dbi blocks_, changes_;
  std::unique_ptr<BlockMap> map_;
  std::vector<BlockKey> model_;
};

TEST_F(ChangeLogTest, RangesAcrossFlushesMatchModel) {
  std::mt19937_64 rng(7);
  uint64_t seq = 0;
  for (int flush = 0; flush < 12; ++flush) {
    for (int i = 0; i < 300; ++i) {
      ++seq;
      const uint32_t disk = 1 + rng() % 2, branch = 1 + rng() % 3;
      const uint64_t first = rng() % 5000;
      for (uint64_t b = first; b < first + 1 + rng() % 4; ++b) Add(disk, branch, b, seq);
    }
    if (flush != 11) {  // the last batch stays in memory
      ASSERT_TRUE(Flush().ok());
    }
  }
  const uint64_t bounds[] = {0, 1, 299, 300, 301, 1500, 2222, 3599, 3600, kMaxSeq};
  for (uint32_t disk : {1u, 2u, 3u}) {
    for (uint32_t branch : {1u, 2u, 3u}) {
      for (uint64_t lo : bounds) {
        for (uint64_t hi : bounds) {
          if (hi < lo) continue;
          ASSERT_EQ(Model(disk, branch, lo, hi), Changed(disk, branch, lo, hi))
              << "disk " << disk << " branch " << branch << " (" << lo << ", " << hi << "]";
        }
      }
    }
  }
  EXPECT_FALSE(Changed(1, 1, 0, kMaxSeq).empty());  // the model is not vacuous
}

TEST_F(ChangeLogTest, TruncateAfterForgetsNewerVersions) {
  for (uint64_t seq = 1; seq <= 100; ++seq) Add(1, 1, seq % 17, seq);
  ASSERT_TRUE(Flush().ok());
  ASSERT_TRUE(env_->Update([&](Txn& txn) { return TruncateChangesAfter(txn, changes_, 40); }).ok());
  std::erase_if(model_, [](const BlockKey& k) { return k.seq > 40; });
  EXPECT_EQ(Model(1, 1, 0, kMaxSeq), Changed(1, 1, 0, kMaxSeq));
  EXPECT_EQ(Model(1, 1, 30, kMaxSeq), Changed(1, 1, 30, kMaxSeq));
  EXPECT_TRUE(Changed(1, 1, 40, kMaxSeq).empty());
}

TEST_F(ChangeLogTest, BuildFromBlockMapMatchesModel) {
  std::mt19937_64 rng(11);
  for (uint64_t seq = 1; seq <= 3000; ++seq) Add(1 + rng() % 2, 1 + rng() % 2, rng() % 700, seq);
  ASSERT_TRUE(Flush().ok());
  // Drop the rows the flush wrote, as a format-1 vault would lack them,
  // and rebuild in small rows so the query crosses many.
  ASSERT_TRUE(env_->Update([&](Txn& txn) {
                     RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_drop(txn.get(), changes_, 0), "drop"));
                     return BuildChangeLog(txn, blocks_, changes_, 64);
                   }).ok());
  for (uint64_t lo : {0ull, 5ull, 1000ull, 2999ull}) {
    for (uint64_t hi : {10ull, 1500ull, 3000ull, 100000ull}) {
      if (hi < lo) continue;
      ASSERT_EQ(Model(1, 2, lo, hi), Changed(1, 2, lo, hi)) << lo << " " << hi;
      ASSERT_EQ(Model(2, 1, lo, hi), Changed(2, 1, lo, hi)) << lo << " " << hi;
    }
  }
}

TEST(Varint, RoundTripsAndRejectsTruncation) {
  std::string s;
  const uint64_t values[] = {0, 1, 127, 128, 300, 1ull << 35, UINT64_MAX};
  for (uint64_t v : values) PutVarint64(&s, v);
  const char* p = s.data();
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&p, s.data() + s.size(), &got));
    EXPECT_EQ(v, got);
  }
  EXPECT_EQ(p, s.data() + s.size());
  std::string cut = s.substr(0, s.size() - 1);  // UINT64_MAX loses its last byte
  p = cut.data() + cut.size() - 9;
  uint64_t got;
  EXPECT_FALSE(GetVarint64(&p, cut.data() + cut.size(), &got));
}

}  // namespace
}  // namespace rpfs::catalog
