// BlockMap: one-seek lookups of "newest version <= seq", fall-through to
// parent branches bounded by the fork seq, in-memory and LMDB parts
// agreeing, and scans that merge a branch chain.
#include "catalog/block_map.h"
#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

class BlockMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Env::Open(dir_.path(), Env::Options(), &env_).ok());
    ASSERT_TRUE(env_->OpenDb("blocks", &dbi_).ok());
    ASSERT_TRUE(env_->OpenDb("changes", &changes_).ok());
    map_ = std::make_unique<BlockMap>(env_.get(), dbi_, changes_);
  }
  // A version whose location encodes its seq, so results are checkable.
  void Add(uint32_t disk, uint32_t branch, uint64_t block, uint64_t seq, uint8_t flags = 0) {
    BlockVersion v;
    v.seq = seq;
    v.loc = journal::RecordLocation{1, static_cast<uint32_t>(seq), 100};
    v.flags = flags;
    map_->Add(BlockKey{disk, branch, block, seq}, v);
  }
  FoundBlock Find(uint32_t disk, const BranchChain& chain, uint64_t block) {
    FoundBlock f;
    EXPECT_TRUE(map_->Read([&](BlockMap::Reader& r) { return r.Find(disk, chain, block, &f); }).ok());
    return f;
  }
  TempDir dir_;
  std::unique_ptr<Env> env_;
  MDB_dbi dbi_, changes_;
  std::unique_ptr<BlockMap> map_;
};

TEST_F(BlockMapTest, NewestVersionAtOrBeforeSeq) {
  for (bool flushed : {false, true}) {
    SCOPED_TRACE(flushed ? "in LMDB" : "in memory");
    Add(1, 1, 7, 10);
    Add(1, 1, 7, 20);
    Add(1, 1, 7, 30);
    Add(1, 1, 8, 15);  // neighbours must not leak into block 7
    Add(2, 1, 7, 5);   // nor other disks
    if (flushed) {
      ASSERT_TRUE(map_->Flush([](Txn&) { return Status::OK(); }).ok());
    }
    EXPECT_FALSE(Find(1, {{1, 9}}, 7).found);
    EXPECT_EQ(10u, Find(1, {{1, 10}}, 7).version.seq);
    EXPECT_EQ(10u, Find(1, {{1, 19}}, 7).version.seq);
    EXPECT_EQ(20u, Find(1, {{1, 29}}, 7).version.seq);
    EXPECT_EQ(30u, Find(1, {{1, kMaxSeq}}, 7).version.seq);
    EXPECT_EQ(30u, Find(1, {{1, kMaxSeq}}, 7).version.loc.offset);
    EXPECT_FALSE(Find(1, {{1, 14}}, 8).found);
    EXPECT_FALSE(Find(1, {{1, kMaxSeq}}, 6).found);
    EXPECT_FALSE(Find(1, {{1, 4}}, 7).found);
  }
}

TEST_F(BlockMapTest, BranchFallsThroughToParentUpToForkSeq) {
  // Branch 2 forked from branch 1 at seq 20.
  Add(1, 1, 0, 10);
  Add(1, 1, 0, 25);  // after the fork: invisible to branch 2
  Add(1, 1, 1, 12);
  Add(1, 2, 1, 30);  // branch 2's own write
  BranchChain chain = {{2, kMaxSeq}, {1, 20}};
  EXPECT_EQ(10u, Find(1, chain, 0).version.seq);
  EXPECT_EQ(1u, Find(1, chain, 0).branch);
  EXPECT_EQ(30u, Find(1, chain, 1).version.seq);
  EXPECT_EQ(2u, Find(1, chain, 1).branch);
  // The primary itself sees its own newest.
  EXPECT_EQ(25u, Find(1, {{1, kMaxSeq}}, 0).version.seq);
  EXPECT_EQ(12u, Find(1, {{1, kMaxSeq}}, 1).version.seq);
  // Branch 2 as of before its own write sees the parent's block 1.
  EXPECT_EQ(12u, Find(1, {{2, 29}, {1, 20}}, 1).version.seq);
}

TEST_F(BlockMapTest, ScanMergesChainInBlockOrderChildWins) {
  std::mt19937 rng(4);
  // Random versions on a parent (1) and child (2, forked at seq 500).
  std::map<uint64_t, std::pair<uint32_t, uint64_t>> model;  // block -> (branch, seq)
  uint64_t seq = 0;
  for (int i = 0; i < 2000; ++i) {
    uint32_t branch = ++seq <= 500 || rng() % 2 ? 1 : 2;
    uint64_t block = rng() % 300;
    Add(1, branch, block, seq);
  }
  ASSERT_TRUE(map_->Flush([](Txn&) { return Status::OK(); }).ok());
  BranchChain chain = {{2, 1500}, {1, 500}};
  // Expected via Find, block by block.
  for (uint64_t b = 0; b < 300; ++b) {
    FoundBlock f = Find(1, chain, b);
    if (f.found) model[b] = {f.branch, f.version.seq};
  }
  std::map<uint64_t, std::pair<uint32_t, uint64_t>> scanned;
  uint64_t last = 0;
  bool first = true;
  ASSERT_TRUE(map_->Scan(1, chain, 0, 300, [&](uint64_t b, const FoundBlock& f) {
                    EXPECT_TRUE(first || b > last);
                    first = false;
                    last = b;
                    scanned[b] = {f.branch, f.version.seq};
                    return Status::OK();
                  }).ok());
  EXPECT_EQ(model, scanned);
  EXPECT_GT(model.size(), 200u);
}

TEST_F(BlockMapTest, RemoveFromDropsVersionsAtOrPastPosition) {
  Add(1, 1, 0, 10);
  Add(1, 1, 1, 20);
  ASSERT_TRUE(map_->Flush([](Txn&) { return Status::OK(); }).ok());
  Add(1, 1, 2, 30);
  uint64_t removed;
  ASSERT_TRUE(map_->RemoveFrom(journal::JournalPos{1, 20}, &removed).ok());
  EXPECT_EQ(1u, removed);  // the LMDB one; the in-memory one goes too
  EXPECT_TRUE(Find(1, {{1, kMaxSeq}}, 0).found);
  EXPECT_FALSE(Find(1, {{1, kMaxSeq}}, 1).found);
  EXPECT_FALSE(Find(1, {{1, kMaxSeq}}, 2).found);
}

TEST(LmdbEnv, MapGrowsInsteadOfFailing) {
  TempDir dir;
  std::unique_ptr<Env> env;
  Env::Options o;
  o.initial_map_size = 256 << 10;
  ASSERT_TRUE(Env::Open(dir.path(), o, &env).ok());
  MDB_dbi dbi;
  ASSERT_TRUE(env->OpenDb("t", &dbi).ok());
  size_t before = env->map_size();
  std::string value(200, 'v');
  for (int batch = 0; batch < 20; ++batch) {
    ASSERT_TRUE(env->Update([&](Txn& txn) {
                     for (int i = 0; i < 1000; ++i) {
                       RPFS_RETURN_IF_ERROR(txn.Put(dbi, BigEndianKey64(batch * 1000 + i), value));
                     }
                     return Status::OK();
                   }).ok());
  }
  EXPECT_GT(env->map_size(), before);
  size_t n = 0;
  ASSERT_TRUE(env->View([&](Txn& txn) {
                   Cursor c(txn, dbi);
                   RPFS_RETURN_IF_ERROR(c.First());
                   while (c.valid()) {
                     ++n;
                     RPFS_RETURN_IF_ERROR(c.Next());
                   }
                   return Status::OK();
                 }).ok());
  EXPECT_EQ(20000u, n);
}

}  // namespace
}  // namespace rpfs::catalog
