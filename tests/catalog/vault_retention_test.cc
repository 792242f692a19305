// Retention policy and point expiry (catalog/vault_retention.cc), on an
// injected clock: points older than their group's window leave the
// catalog, for good; group policy changes stick across a reopen.
#include <gtest/gtest.h>

#include <atomic>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

constexpr uint64_t kMin = 60ull * 1000000000;

class VaultRetention : public ::testing::Test {
 protected:
  void SetUp() override {
    oo_.clock = [this] { return now_.load(); };
    ASSERT_TRUE(Vault::Create(dir_ / "v", VaultOptions(), oo_, &v_).ok());
    Group g;
    g.name = "g";
    g.retention_s = 3600;
    ASSERT_TRUE(v_->CreateGroup(g).ok());
    Group other;
    other.name = "other";  // default window (72h): nothing of it expires here
    ASSERT_TRUE(v_->CreateGroup(other).ok());
  }
  uint64_t PointAt(const std::string& group, uint64_t t) {
    now_ = t;
    Point p;
    EXPECT_TRUE(v_->CreatePoint(group, "crash", "", &p).ok());
    return p.id;
  }
  std::vector<uint64_t> Ids(const std::string& group) {
    std::vector<uint64_t> ids;
    for (const Point& p : v_->ListPoints(group)) ids.push_back(p.id);
    return ids;
  }

  rpfs::testing::TempDir dir_;
  std::atomic<uint64_t> now_{1000 * kMin};
  OpenOptions oo_;
  std::unique_ptr<Vault> v_;
};

TEST_F(VaultRetention, PointsOlderThanTheWindowExpireForGood) {
  const uint64_t t0 = now_;
  uint64_t a = PointAt("g", t0);
  uint64_t b = PointAt("g", t0 + 30 * kMin);
  uint64_t c = PointAt("g", t0 + 120 * kMin);
  uint64_t o = PointAt("other", t0);

  now_ = t0 + 60 * kMin;  // a is exactly at the window's edge: kept
  std::vector<Point> expired;
  ASSERT_TRUE(v_->ExpirePoints(&expired).ok());
  EXPECT_TRUE(expired.empty());

  now_ = t0 + 121 * kMin;  // the window starts at t0 + 61 min
  ASSERT_TRUE(v_->ExpirePoints(&expired).ok());
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].id, a);
  EXPECT_EQ(expired[1].id, b);
  EXPECT_EQ(Ids("g"), std::vector<uint64_t>{c});
  EXPECT_EQ(Ids("other"), std::vector<uint64_t>{o});

  // Gone after a reopen too, and point ids are not reused.
  v_.reset();
  ASSERT_TRUE(Vault::Open(dir_ / "v", oo_, &v_).ok());
  EXPECT_EQ(Ids("g"), std::vector<uint64_t>{c});
  EXPECT_GT(PointAt("g", now_), c);
}

TEST_F(VaultRetention, PolicyChangesApplyAndStick) {
  const uint64_t t0 = now_;
  PointAt("g", t0);
  uint64_t late = PointAt("g", t0 + 50 * kMin);
  Group g;
  ASSERT_TRUE(v_->SetGroupPolicy("g", [](Group* row) {
    row->retention_s = 20 * 60;
    row->crash_every_s = 60;
    return Status::OK();
  }, &g).ok());
  EXPECT_EQ(g.retention_s, 20u * 60);
  std::vector<Point> expired;
  now_ = t0 + 60 * kMin;  // with 20 min, only the late point is inside
  ASSERT_TRUE(v_->ExpirePoints(&expired).ok());
  EXPECT_EQ(expired.size(), 1u);
  EXPECT_EQ(Ids("g"), std::vector<uint64_t>{late});

  v_.reset();
  ASSERT_TRUE(Vault::Open(dir_ / "v", oo_, &v_).ok());
  ASSERT_TRUE(v_->GetGroup("g", &g).ok());
  EXPECT_EQ(g.retention_s, 20u * 60);
  EXPECT_EQ(g.crash_every_s, 60u);

  Status s = v_->SetGroupPolicy("nope", [](Group*) { return Status::OK(); }, nullptr);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  s = v_->SetGroupPolicy("g", [](Group* row) {
    row->name = "renamed";
    return Status::OK();
  }, nullptr);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  // A refused edit changes nothing.
  s = v_->SetGroupPolicy("g", [](Group* row) {
    row->retention_s = 1;
    return Status::InvalidArgument("no");
  }, nullptr);
  EXPECT_FALSE(s.ok());
  ASSERT_TRUE(v_->GetGroup("g", &g).ok());
  EXPECT_EQ(g.retention_s, 20u * 60);
}

}  // namespace
}  // namespace rpfs::catalog
