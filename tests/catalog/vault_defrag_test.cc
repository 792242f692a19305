// Defragmentation (catalog/vault_defrag.cc): a disk scattered over the
// journal by random writes is laid out again in block order (checked on
// the index: the records of each 1 MiB extent, in block order, form at
// most a couple of journal runs), every view reads back exactly as before
// (latest, points, instants), in plain and encrypted vaults, after a
// reopen (recovery over the copies) and a deep verify; the quiet time
// leaves extents still being written alone; the copy budget stops a pass
// and the next goes on; compaction then reclaims the old records.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "catalog/vault.h"
#include "catalog/vault_verify.h"
#include "tests/catalog/view_model.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

constexpr uint64_t kMin = 60ull * 1000000000;
constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 1024;         // a 4 MiB disk: 4 extents
constexpr uint64_t kExtentBlocks = 256;    // 1 MiB

void Fill(uint64_t b, uint64_t s, char* out) { rpfs::testing::FillVersion(b, s, out, kBs); }

class VaultDefrag : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    oo_.clock = [this] { return now_.load(); };
    VaultOptions vo;
    vo.max_segment_bytes = 8 << 20;
    vo.compression_level = 0;
    if (GetParam()) {
      vo.encrypt = true;
      vo.passphrase = "correct horse";
      vo.passphrase_hash = "scrypt$test";
      oo_.passphrase = [](std::string* p) {
        *p = "correct horse";
        return Status::OK();
      };
    }
    ASSERT_TRUE(Vault::Create(dir_ / "v", vo, oo_, &v_).ok());
    ASSERT_EQ(GetParam(), v_->encrypted());
    Group g;
    g.name = "g";
    g.retention_s = 24 * 3600;
    ASSERT_TRUE(v_->CreateGroup(g).ok());
    ASSERT_TRUE(v_->CreateDisk("vm/d", kBlocks * kBs, "g", &disk_).ok());
  }

  void Write(uint64_t b, uint64_t count) {
    std::string data(count * kBs, '\0');
    const uint64_t seq = v_->last_seq() + 1;
    for (uint64_t i = 0; i < count; ++i) Fill(b + i, seq, data.data() + i * kBs);
    ASSERT_TRUE(v_->Write(disk_.id, b * kBs, data.data(), data.size()).ok());
    for (uint64_t i = 0; i < count; ++i) model_[b + i][seq] = true;
  }
  // n random one-block writes into blocks [first, end).
  void Scatter(uint64_t first, uint64_t end, int n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; ++i) Write(first + rng() % (end - first), 1);
  }
  void ExpectView(View view, uint64_t model_seq, const std::string& what) {
    ExpectViewMatchesModel(*v_, disk_.id, view, model_, model_seq, kBlocks, kBs, what);
  }
  // The most journal runs any extent of the latest view's records lie in
  // (records that follow each other in a segment file are one run).
  uint32_t MaxRunsPerExtent() {
    EXPECT_TRUE(v_->FlushIndex().ok());
    std::vector<uint32_t> runs(kBlocks / kExtentBlocks, 0);
    journal::RecordLocation prev;
    uint64_t prev_block = UINT64_MAX;
    EXPECT_TRUE(v_->catalog()
                    .blocks()
                    .Scan(disk_.id, v_->ChainFor(v_->Latest(disk_)), 0, kBlocks,
                          [&](uint64_t b, const FoundBlock& f) -> Status {
                            const auto& loc = f.version.loc;
                            const bool joins = prev_block != UINT64_MAX &&
                                               prev_block / kExtentBlocks == b / kExtentBlocks &&
                                               prev.segment == loc.segment &&
                                               uint64_t{prev.offset} + prev.size == loc.offset;
                            if (!joins) ++runs[b / kExtentBlocks];
                            prev = loc;
                            prev_block = b;
                            return Status::OK();
                          })
                    .ok());
    return *std::max_element(runs.begin(), runs.end());
  }
  void ExpectAllViews(const std::vector<Point>& points, const std::string& when) {
    ExpectView(v_->Latest(disk_), kMaxSeq, when + ": latest");
    for (const Point& p : points) {
      ExpectView(View{p.branch, p.seq}, p.seq, when + ": point " + std::to_string(p.id));
    }
    for (uint64_t seq : instants_) {
      ExpectView(View{v_->Latest(disk_).branch, seq}, seq, when + ": #" + std::to_string(seq));
    }
  }
  void Reopen() {
    v_.reset();
    ASSERT_TRUE(Vault::Open(dir_ / "v", oo_, &v_).ok());
  }

  rpfs::testing::TempDir dir_;
  std::atomic<uint64_t> now_{1000 * kMin};
  OpenOptions oo_;
  std::unique_ptr<Vault> v_;
  Disk disk_;
  ViewModel model_;
  std::vector<uint64_t> instants_;
};

TEST_P(VaultDefrag, AScatteredDiskIsLaidOutInBlockOrderAndEveryViewReadsBack) {
  Write(0, kBlocks);  // a sequential fill
  std::vector<Point> points(2);
  Scatter(0, kBlocks, 1500, 1);
  instants_.push_back(v_->last_seq());
  ASSERT_TRUE(v_->CreatePoint("g", "crash", "", &points[0]).ok());
  Scatter(0, kBlocks, 1500, 2);
  ASSERT_TRUE(v_->CreatePoint("g", "crash", "", &points[1]).ok());
  ASSERT_GT(MaxRunsPerExtent(), 100u) << "the random writes did not scatter the disk";

  DefragReport r;
  ASSERT_TRUE(v_->Defragment(DefragOptions(), &r).ok());
  EXPECT_EQ(4u, r.extents);
  EXPECT_EQ(4u, r.fragmented_extents);
  EXPECT_EQ(4u, r.rewritten_extents);
  EXPECT_EQ(0u, r.busy_extents);
  EXPECT_EQ(kBlocks, r.copied_records);
  EXPECT_GE(r.copied_bytes, kBlocks * kBs);
  EXPECT_EQ("", r.stopped);
  // A segment boundary may split one extent in two.
  EXPECT_LE(MaxRunsPerExtent(), 2u);
  ExpectAllViews(points, "after the pass");

  // Nothing left to do.
  DefragReport again;
  ASSERT_TRUE(v_->Defragment(DefragOptions(), &again).ok());
  EXPECT_EQ(0u, again.fragmented_extents);
  EXPECT_EQ(0u, again.copied_records);

  // Recovery replays the copies (they lie past the indexed position).
  Reopen();
  EXPECT_LE(MaxRunsPerExtent(), 2u);
  ExpectAllViews(points, "after a reopen");
  VerifyReport vr;
  ASSERT_TRUE(VerifyVault(*v_, true, &vr).ok());
  for (const auto& p : vr.problems) ADD_FAILURE() << p;

  // The old records are garbage: compaction finds and reclaims them.
  CompactOptions co;
  co.max_live_fraction = 0.9;
  CompactReport cr;
  ASSERT_TRUE(v_->Compact(co, &cr).ok());
  EXPECT_GE(cr.garbage_bytes, kBlocks * kBs / 2);
  EXPECT_GT(cr.reclaimed_bytes, 0u);
  ExpectAllViews(points, "after compaction");
}

TEST_P(VaultDefrag, ExtentsWrittenWithinTheQuietTimeAreLeftAlone) {
  Write(0, kBlocks);
  Scatter(0, kBlocks / 2, 800, 3);  // extents 0 and 1, long ago
  now_ += 30 * kMin;
  Scatter(kBlocks / 2, kBlocks, 800, 4);  // extents 2 and 3, just now
  now_ += kMin;

  DefragOptions o;
  o.quiet_ns = 10 * kMin;
  DefragReport r;
  ASSERT_TRUE(v_->Defragment(o, &r).ok());
  EXPECT_EQ(4u, r.fragmented_extents);
  EXPECT_EQ(2u, r.busy_extents);
  EXPECT_EQ(2u, r.rewritten_extents);
  EXPECT_EQ(kBlocks / 2, r.copied_records);
  ExpectAllViews({}, "after the quiet pass");

  now_ += 10 * kMin;
  ASSERT_TRUE(v_->Defragment(o, &r).ok());
  EXPECT_EQ(2u, r.fragmented_extents);
  EXPECT_EQ(2u, r.rewritten_extents);
  EXPECT_LE(MaxRunsPerExtent(), 2u);
  ExpectAllViews({}, "once all were quiet");
}

TEST_P(VaultDefrag, TheCopyBudgetStopsAPassAndTheNextGoesOn) {
  Write(0, kBlocks);
  Scatter(0, kBlocks, 3000, 5);
  DefragOptions o;
  o.max_copy_bytes = 2 * kExtentBlocks * (kBs + 200);  // about two extents
  int passes = 0;
  uint64_t copied = 0;
  for (DefragReport r; passes < 10; ++passes) {
    ASSERT_TRUE(v_->Defragment(o, &r).ok());
    copied += r.copied_records;
    if (r.rewritten_extents == 0) break;
    EXPECT_GE(2u, r.rewritten_extents);
    if (passes == 0) {
      EXPECT_NE("", r.stopped);
    }
  }
  EXPECT_EQ(2, passes);  // 2 + 2 extents; the third pass found nothing
  EXPECT_EQ(kBlocks, copied);
  EXPECT_LE(MaxRunsPerExtent(), 2u);
  ExpectAllViews({}, "after the passes");
}

TEST_P(VaultDefrag, NearTheSizeCapNothingIsCopied) {
  Write(0, kBlocks);
  Scatter(0, kBlocks, 3000, 6);
  VaultStats st;
  ASSERT_TRUE(v_->Stats(&st).ok());
  ASSERT_TRUE(v_->SetMaxSize((st.journal_bytes + st.catalog_bytes) * 11 / 10).ok());
  DefragReport r;
  ASSERT_TRUE(v_->Defragment(DefragOptions(), &r).ok());
  EXPECT_EQ(0u, r.copied_records);
  EXPECT_NE(std::string::npos, r.stopped.find("size cap")) << r.stopped;
}

INSTANTIATE_TEST_SUITE_P(PlainAndEncrypted, VaultDefrag, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Encrypted" : "Plain"; });

}  // namespace
}  // namespace rpfs::catalog
