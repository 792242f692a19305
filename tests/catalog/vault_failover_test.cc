// Failover states in the engine: which branch a disk may write, the state
// machine and its refusals (each changing nothing), DiffBlocks against a
// byte model across a branch and its parent, states surviving a reopen,
// and jobs left running becoming "interrupted".
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "catalog/job_log.h"
#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kDiskBlocks = 256;

class VaultFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "v";
    ASSERT_TRUE(Vault::Create(path_, VaultOptions(), OpenOptions(), &v_).ok());
    for (const char* name : {"web", "db"}) {
      Group g;
      g.name = name;
      ASSERT_TRUE(v_->CreateGroup(g).ok());
    }
    ASSERT_TRUE(v_->CreateDisk("web/d0", kDiskBlocks * kBlock, "web", &web_).ok());
    ASSERT_TRUE(v_->CreateDisk("db/d0", kDiskBlocks * kBlock, "db", &db_).ok());
  }
  // Writes `count` blocks at `block` filled with `byte`.
  Status Put(const Disk& d, uint32_t branch, uint64_t block, uint64_t count, char byte) {
    std::string data(count * kBlock, byte);
    return v_->WriteBranch(d.id, branch, block * kBlock, data.data(), data.size());
  }
  std::string ReadAll(const Disk& d, View view) {
    std::string out(d.size, '?');
    EXPECT_TRUE(v_->Read(d.id, view, 0, out.size(), out.data()).ok());
    return out;
  }
  // The blocks whose bytes differ, by brute force.
  std::vector<uint64_t> ModelDiff(const Disk& d, View a, View b) {
    std::string x = ReadAll(d, a), y = ReadAll(d, b);
    std::vector<uint64_t> out;
    for (uint64_t i = 0; i < kDiskBlocks; ++i) {
      if (x.compare(i * kBlock, kBlock, y, i * kBlock, kBlock) != 0) out.push_back(i);
    }
    return out;
  }
  Group GroupRow(const std::string& name) {
    Group g;
    EXPECT_TRUE(v_->GetGroup(name, &g).ok());
    return g;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Vault> v_;
  Disk web_, db_;
};

TEST_F(VaultFailoverTest, FailoverClosesOnlyTheGroupsOldTimeline) {
  ASSERT_TRUE(Put(web_, 1, 0, 8, 'a').ok());
  ASSERT_TRUE(Put(db_, 1, 0, 8, 'a').ok());
  const uint64_t fork = v_->last_seq();
  Branch f;
  ASSERT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "", false, &f).ok());
  EXPECT_EQ(f.name, "web-failover-" + std::to_string(f.id));
  EXPECT_EQ(f.fork_seq, fork);
  EXPECT_EQ(GroupRow("web").state, "failed-over");
  EXPECT_EQ(GroupRow("web").active_branch, f.id);
  // The old source's late write is refused; the other group is untouched.
  Status late = Put(web_, 1, 0, 1, 'L');
  EXPECT_TRUE(late.IsReadOnly()) << late.ToString();
  EXPECT_TRUE(Put(db_, 1, 0, 1, 'b').ok());
  EXPECT_TRUE(v_->CheckWritable(db_.id, f.id).IsNotFound());  // not db's branch
  // Write() follows the active branch; the clone started as the primary was.
  std::string one(kBlock, 'F');
  ASSERT_TRUE(v_->Write(web_.id, 4 * kBlock, one.data(), one.size()).ok());
  std::string clone = ReadAll(web_, View{f.id, kMaxSeq});
  EXPECT_EQ(clone.substr(0, kBlock), std::string(kBlock, 'a'));
  EXPECT_EQ(clone.substr(4 * kBlock, kBlock), one);
  EXPECT_EQ(ReadAll(web_, View{1, kMaxSeq}).substr(4 * kBlock, kBlock), std::string(kBlock, 'a'));
}

TEST_F(VaultFailoverTest, TestBranchesAreWritableAndCleanupRemovesThem) {
  ASSERT_TRUE(Put(web_, 1, 0, 4, 'a').ok());
  Branch t;
  ASSERT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "drill", true, &t).ok());
  EXPECT_EQ(GroupRow("web").state, "protected");
  EXPECT_EQ(GroupRow("web").active_branch, 1u);
  ASSERT_TRUE(Put(web_, t.id, 0, 1, 't').ok());
  ASSERT_TRUE(Put(web_, 1, 1, 1, 'p').ok());  // replication goes on
  EXPECT_EQ(ReadAll(web_, View{t.id, kMaxSeq}).substr(kBlock, kBlock), std::string(kBlock, 'a'));
  EXPECT_EQ(ReadAll(web_, View{1, kMaxSeq}).substr(0, kBlock), std::string(kBlock, 'a'));
  ASSERT_TRUE(v_->CleanupBranch("drill", nullptr).ok());
  Branch gone;
  EXPECT_TRUE(v_->FindBranch("drill", &gone).IsNotFound());
  EXPECT_TRUE(Put(web_, t.id, 0, 1, 'x').IsNotFound());
  EXPECT_TRUE(v_->CleanupBranch("drill", nullptr).IsNotFound());
  // The name is free again.
  EXPECT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "drill", true, nullptr).ok());
}

TEST_F(VaultFailoverTest, RefusedTransitionsChangeNothing) {
  auto snapshot = [&] {
    return std::make_tuple(GroupRow("web").state, GroupRow("web").active_branch,
                           v_->ListBranches().size());
  };
  auto before = snapshot();
  EXPECT_TRUE(v_->Reprotect("web").IsInvalidArgument());          // before failover
  EXPECT_TRUE(v_->FinishFailback("web", 0, nullptr).IsInvalidArgument());
  EXPECT_TRUE(v_->Failover("nope", View{1, kMaxSeq}, "", false, nullptr).IsNotFound());
  EXPECT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "bad/name", true, nullptr).IsInvalidArgument());
  EXPECT_TRUE(v_->CleanupBranch("unknown", nullptr).IsNotFound());
  EXPECT_EQ(before, snapshot());
  Branch f;
  ASSERT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "fo", false, &f).ok());
  before = snapshot();
  EXPECT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "", false, nullptr).IsInvalidArgument());
  EXPECT_TRUE(v_->Failover("db", View{1, kMaxSeq}, "fo", false, nullptr).IsAlreadyExists());
  EXPECT_TRUE(v_->CleanupBranch("fo", nullptr).IsInvalidArgument());  // not a test branch
  EXPECT_TRUE(v_->FinishFailback("web", 0, nullptr).IsInvalidArgument());  // not reprotected
  EXPECT_EQ(before, snapshot());
  ASSERT_TRUE(v_->Reprotect("web").ok());
  EXPECT_TRUE(v_->Reprotect("web").IsInvalidArgument());
  EXPECT_EQ(GroupRow("web").state, "reprotected");
}

TEST_F(VaultFailoverTest, DiffBlocksMatchesBytesAcrossBranches) {
  std::mt19937_64 rng(3);
  auto scribble = [&](uint32_t branch, int writes) {
    for (int i = 0; i < writes; ++i) {
      uint64_t b = rng() % (kDiskBlocks - 4);
      char byte = static_cast<char>('A' + rng() % 26);
      // Some writes repeat what is there (same bytes, new version): diff
      // reports versions, so the model counts them as changed too.
      ASSERT_TRUE(Put(web_, branch, b, 1 + rng() % 4, byte).ok());
    }
    ASSERT_TRUE(v_->FlushIndex().ok());  // half the history in LMDB, half in memory
  };
  scribble(1, 200);
  const uint64_t s1 = v_->last_seq();
  scribble(1, 100);
  const uint64_t s2 = v_->last_seq();
  Branch f;
  ASSERT_TRUE(v_->Failover("web", View{1, s1}, "f", false, &f).ok());
  scribble(f.id, 60);
  std::string zeros(3 * kBlock, '\0');
  ASSERT_TRUE(v_->WriteBranch(web_.id, f.id, 10 * kBlock, zeros.data(), zeros.size()).ok());
  const uint64_t s3 = v_->last_seq();
  scribble(f.id, 30);

  const std::vector<std::pair<View, View>> cases = {
      {View{1, s1}, View{1, s2}},           {View{1, 0}, View{1, kMaxSeq}},
      {View{1, kMaxSeq}, View{f.id, s3}},   {View{f.id, s3}, View{f.id, kMaxSeq}},
      {View{1, s2}, View{f.id, kMaxSeq}},   {View{f.id, kMaxSeq}, View{1, s1}},
  };
  for (auto& [a, b] : cases) {
    std::vector<uint64_t> got;
    ASSERT_TRUE(v_->DiffBlocks(web_.id, a, b, &got).ok());
    std::vector<uint64_t> want = ModelDiff(web_, a, b);
    // Every byte difference is reported; anything extra is a rewrite.
    for (uint64_t blk : want) {
      EXPECT_TRUE(std::binary_search(got.begin(), got.end(), blk))
          << "block " << blk << " differs but is not reported (" << a.branch << "@" << a.seq
          << " vs " << b.branch << "@" << b.seq << ")";
    }
    EXPECT_FALSE(got.empty());
  }
  std::vector<uint64_t> none;
  ASSERT_TRUE(v_->DiffBlocks(web_.id, View{1, s1}, View{f.id, s1}, &none).ok());
  EXPECT_TRUE(none.empty());  // the fork point itself: same versions on both sides
}

TEST_F(VaultFailoverTest, StatesAndJobsSurviveReopen) {
  Branch f;
  ASSERT_TRUE(v_->Failover("web", View{1, kMaxSeq}, "fo", false, &f).ok());
  Job running, done;
  running.kind = "failback";
  running.group = "web";
  ASSERT_TRUE(catalog::JobLog(*v_).Start(&running).ok());
  done.kind = "export";
  ASSERT_TRUE(catalog::JobLog(*v_).Start(&done).ok());
  ASSERT_TRUE(catalog::JobLog(*v_).Finish(&done, Status::OK()).ok());
  v_.reset();
  ASSERT_TRUE(Vault::Open(path_, OpenOptions(), &v_).ok());
  EXPECT_EQ(GroupRow("web").state, "failed-over");
  EXPECT_EQ(GroupRow("web").active_branch, f.id);
  EXPECT_TRUE(Put(web_, 1, 0, 1, 'x').IsReadOnly());
  auto jobs = catalog::JobLog(*v_).List();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].state, "interrupted");
  EXPECT_EQ(jobs[1].state, "succeeded");
  EXPECT_GT(jobs[1].end_ns, 0u);
}

}  // namespace
}  // namespace rpfs::catalog
