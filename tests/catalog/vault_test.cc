// Vault engine behaviour beyond the model test: branches, bounds, zero
// blocks, locking, time views.
#include "catalog/vault.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenOptions oo;
    oo.clock = [this] { return now_ns_; };
    ASSERT_TRUE(Vault::Create(dir_ / "v", VaultOptions(), oo, &v_).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v_->CreateGroup(g).ok());
    ASSERT_TRUE(v_->CreateDisk("vm/d", 1 << 20, "g", &d_).ok());
  }
  std::string ReadAll(View view) {
    std::string got(d_.size, '\0');
    Status s = v_->Read(d_.id, view, 0, got.size(), got.data());
    EXPECT_TRUE(s.ok()) << s.ToString();
    return got;
  }
  uint64_t now_ns_ = 1764107612000000000ull;  // 2025-11-25T21:53:32Z
  TempDir dir_;
  std::unique_ptr<Vault> v_;
  Disk d_;
};

TEST_F(VaultTest, NeverWrittenReadsZeroAndTakesNoSpace) {
  EXPECT_EQ(std::string(d_.size, '\0'), ReadAll(v_->Latest(d_)));
  VaultStats st;
  ASSERT_TRUE(v_->Stats(&st).ok());
  EXPECT_EQ(0u, st.block_versions);
}

TEST_F(VaultTest, ZeroBlocksAreAFlagNotData) {
  VaultStats before, after;
  ASSERT_TRUE(v_->Stats(&before).ok());
  std::string zeros(256 << 10, '\0');
  ASSERT_TRUE(v_->Write(d_.id, 0, zeros.data(), zeros.size()).ok());
  ASSERT_TRUE(v_->Sync().ok());
  ASSERT_TRUE(v_->Stats(&after).ok());
  // 64 records of header only: far less than the 256 KiB written.
  EXPECT_EQ(64u * journal::kRecordHeaderSize, after.journal_bytes - before.journal_bytes);
  EXPECT_EQ(zeros, ReadAll(v_->Latest(d_)).substr(0, zeros.size()));
}

TEST_F(VaultTest, ZeroWriteHidesOlderData) {
  std::string data(8192, 'x'), zeros(8192, '\0');
  ASSERT_TRUE(v_->Write(d_.id, 4096, data.data(), data.size()).ok());
  ASSERT_TRUE(v_->Write(d_.id, 4096, zeros.data(), zeros.size()).ok());
  EXPECT_EQ(std::string(d_.size, '\0'), ReadAll(v_->Latest(d_)));
}

TEST_F(VaultTest, AccessPastTheEndIsAClearError) {
  char buf[16] = {};
  Status s = v_->Write(d_.id, d_.size - 8, buf, 16);
  EXPECT_EQ(Status::Code::kInvalidArgument, s.code());
  EXPECT_NE(std::string::npos, s.message().find("past the end of disk vm/d")) << s.message();
  s = v_->Read(d_.id, v_->Latest(d_), d_.size, 1, buf);
  EXPECT_EQ(Status::Code::kInvalidArgument, s.code());
  EXPECT_TRUE(v_->Write(d_.id, d_.size - 16, buf, 16).ok());  // the last bytes are fine
}

TEST_F(VaultTest, ForkedBranchIsIsolatedAndFallsThrough) {
  std::string a(d_.size, 'a');
  ASSERT_TRUE(v_->Write(d_.id, 0, a.data(), a.size()).ok());
  Point p;
  ASSERT_TRUE(v_->CreatePoint("g", "crash", "", &p).ok());
  std::string b(4096, 'b');
  ASSERT_TRUE(v_->Write(d_.id, 0, b.data(), b.size()).ok());  // primary moves on

  Branch br;
  ASSERT_TRUE(v_->Failover("g", View{p.branch, p.seq}, "test1", /*test=*/true, &br).ok());
  EXPECT_EQ(p.seq, br.fork_seq);
  EXPECT_EQ(a, ReadAll(View{br.id, kMaxSeq}));  // sees the point, not the later write

  std::string c(4096, 'c');
  ASSERT_TRUE(v_->WriteBranch(d_.id, br.id, 8192, c.data(), c.size()).ok());
  std::string want_branch = a;
  want_branch.replace(8192, 4096, c);
  EXPECT_EQ(want_branch, ReadAll(View{br.id, kMaxSeq}));
  std::string want_primary = a;
  want_primary.replace(0, 4096, b);
  EXPECT_EQ(want_primary, ReadAll(v_->Latest(d_)));  // untouched by the branch
  EXPECT_EQ(a, ReadAll(View{p.branch, p.seq}));

  // The same holds after reopening.
  v_.reset();
  ASSERT_TRUE(Vault::Open(dir_ / "v", OpenOptions(), &v_).ok());
  EXPECT_EQ(want_branch, ReadAll(View{br.id, kMaxSeq}));
  EXPECT_EQ(want_primary, ReadAll(v_->Latest(d_)));
  EXPECT_TRUE(v_->Failover("g", View{1, kMaxSeq}, "test1", /*test=*/true, nullptr).code() ==
              Status::Code::kAlreadyExists);
}

// The two-step write an import uses: encoded on one thread, written on
// another, it stores what Write stores (partial blocks at both ends
// merged, zero blocks as flags, text compressed), and is refused the way
// Write is.
TEST_F(VaultTest, EncodedWritesStoreWhatWriteStores) {
  std::string old(d_.size, 'o');
  ASSERT_TRUE(v_->Write(d_.id, 0, old.data(), old.size()).ok());
  std::string data;
  for (int i = 0; data.size() < 40000; ++i) data += "line " + std::to_string(i) + " of text\n";
  data.resize(40000);
  data.replace(8192, 8192, std::string(8192, '\0'));  // whole zero blocks inside
  const uint64_t offset = 1000;  // partial blocks at both ends
  std::vector<journal::EncodedBlock> blocks(20);  // longer than needed: only grows
  std::string room(data.size(), 'r');
  size_t count = 0;
  std::thread encoder([&] {
    count = v_->EncodeWrite(d_.id, offset, data.data(), data.size(), &blocks, room.data());
  });
  encoder.join();
  EXPECT_EQ(count, (offset + data.size()) / 4096 - 1);  // blocks 1 .. 9
  EXPECT_EQ(blocks.size(), 20u);
  bool compressed = false, zero = false;
  const char* next = room.data();  // compressed bodies: in the room, back to back
  for (size_t i = 0; i < count; ++i) {
    compressed |= (blocks[i].flags & journal::kZstd) != 0;
    zero |= (blocks[i].flags & journal::kZero) != 0;
    if (blocks[i].flags & journal::kZstd) {
      EXPECT_EQ(next, blocks[i].body) << "block " << i;
      EXPECT_TRUE(blocks[i].compressed.empty()) << "block " << i;
      next += blocks[i].body_len;
    }
  }
  EXPECT_LE(next, room.data() + room.size());
  EXPECT_TRUE(compressed);
  EXPECT_TRUE(zero);
  ASSERT_TRUE(v_->WriteEncoded(d_.id, offset, data.data(), data.size(), blocks.data(), count).ok());
  std::string want = old;
  want.replace(offset, data.size(), data);
  EXPECT_EQ(want, ReadAll(v_->Latest(d_)));

  // A count that does not fit the range, and writes past the end, are refused.
  Status s = v_->WriteEncoded(d_.id, offset, data.data(), data.size(), blocks.data(), count - 1);
  EXPECT_EQ(Status::Code::kInvalidArgument, s.code()) << s.ToString();
  count = v_->EncodeWrite(d_.id, d_.size - 4096, data.data(), 8192, &blocks, room.data());
  s = v_->WriteEncoded(d_.id, d_.size - 4096, data.data(), 8192, blocks.data(), count);
  EXPECT_NE(std::string::npos, s.message().find("past the end of disk vm/d")) << s.message();
  EXPECT_EQ(want, ReadAll(v_->Latest(d_)));
}

TEST_F(VaultTest, SecondOpenIsRefusedWhileLocked) {
  std::unique_ptr<Vault> other;
  Status s = Vault::Open(dir_ / "v", OpenOptions(), &other);
  EXPECT_EQ(Status::Code::kBusy, s.code());
  EXPECT_NE(std::string::npos, s.message().find("locked by another process")) << s.message();
}

TEST_F(VaultTest, TimeAndSeqViews) {
  std::string one(4096, '1'), two(4096, '2');
  ASSERT_TRUE(v_->Write(d_.id, 0, one.data(), one.size()).ok());
  now_ns_ += 5'000'000'000;  // 5 s later
  ASSERT_TRUE(v_->Write(d_.id, 0, two.data(), two.size()).ok());
  ASSERT_TRUE(v_->FlushIndex().ok());  // half the timeline in LMDB...
  now_ns_ += 5'000'000'000;
  std::string three(4096, '3');
  ASSERT_TRUE(v_->Write(d_.id, 0, three.data(), three.size()).ok());  // ...half in memory

  View view;
  std::string what;
  ASSERT_TRUE(v_->ResolveView(d_, "@2025-11-25T21:53:34Z", &view, &what).ok()) << what;
  EXPECT_EQ(one, ReadAll(view).substr(0, 4096));
  ASSERT_TRUE(v_->ResolveView(d_, "@2025-11-25T21:53:38Z", &view, &what).ok());
  EXPECT_EQ(two, ReadAll(view).substr(0, 4096));
  ASSERT_TRUE(v_->ResolveView(d_, "@2025-11-25T22:53:38+01:00", &view, &what).ok());
  EXPECT_EQ(two, ReadAll(view).substr(0, 4096));
  ASSERT_TRUE(v_->ResolveView(d_, "@2025-11-25T21:53:43Z", &view, &what).ok());
  EXPECT_EQ(three, ReadAll(view).substr(0, 4096));
  ASSERT_TRUE(v_->ResolveView(d_, "#1", &view, &what).ok());
  EXPECT_EQ(one, ReadAll(view).substr(0, 4096));
  EXPECT_TRUE(v_->ResolveView(d_, "#999", &view, &what).IsNotFound());
  EXPECT_EQ(Status::Code::kInvalidArgument,
            v_->ResolveView(d_, "@2025-11-25 noon", &view, &what).code());
}

TEST(VaultCompression, LevelsFromTheFastestToNineteenAndTheDefaultCompresses) {
  TempDir dir;
  for (int level : {kMinCompressionLevel - 1, kMaxCompressionLevel + 1}) {
    VaultOptions vo;
    vo.compression_level = level;
    std::unique_ptr<Vault> v;
    Status s = Vault::Create(dir / ("bad" + std::to_string(level)), vo, OpenOptions(), &v);
    EXPECT_EQ(Status::Code::kInvalidArgument, s.code()) << level;
    EXPECT_NE(std::string::npos, s.message().find(std::to_string(level) + ": -7 to 19"))
        << s.message();
  }
  EXPECT_EQ(-1, VaultOptions().compression_level);
  // The default (a fast level) and the range's ends store text compressed.
  for (int level : {kDefaultCompressionLevel, kMinCompressionLevel, kMaxCompressionLevel}) {
    VaultOptions vo;
    vo.compression_level = level;
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Create(dir / ("ok" + std::to_string(level)), vo, OpenOptions(), &v).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v->CreateGroup(g).ok());
    Disk d;
    ASSERT_TRUE(v->CreateDisk("vm/d", 1 << 20, "g", &d).ok());
    std::string text;
    while (text.size() < (256u << 10)) text += "line " + std::to_string(text.size()) + " of a log\n";
    text.resize(256u << 10);
    VaultStats before, after;
    ASSERT_TRUE(v->Stats(&before).ok());
    ASSERT_TRUE(v->Write(d.id, 0, text.data(), text.size()).ok());
    ASSERT_TRUE(v->Sync().ok());
    ASSERT_TRUE(v->Stats(&after).ok());
    EXPECT_LT(after.journal_bytes - before.journal_bytes, text.size() / 2) << "level " << level;
    std::string got(text.size(), '\0');
    ASSERT_TRUE(v->Read(d.id, v->Latest(d), 0, got.size(), got.data()).ok());
    EXPECT_EQ(text, got) << "level " << level;
  }
}

}  // namespace
}  // namespace rpfs::catalog
