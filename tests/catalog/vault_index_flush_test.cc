// The index flush on the vault's own thread (catalog/vault_index_flush.cc):
// versions reach LMDB without any caller flushing; while flushes run,
// reads, instant lookups, points and catalog rows stay right; and a
// reopen finds all of it, with no id handed out twice.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

constexpr uint64_t kMs = 1000000;

struct Fixture {
  rpfs::testing::TempDir dir;
  std::atomic<uint64_t> now{1000 * kMs};  // each clock call moves 1 ms on
  OpenOptions oo;
  std::unique_ptr<Vault> v;
  Disk d;

  explicit Fixture(bool background) {
    oo.index_flush_entries = 64;
    oo.background_index_flush = background;
    oo.clock = [this] { return now.fetch_add(kMs) + kMs; };
    EXPECT_TRUE(Vault::Create(dir / "v", VaultOptions(), oo, &v).ok());
    Group g;
    g.name = "g";
    EXPECT_TRUE(v->CreateGroup(g).ok());
    EXPECT_TRUE(v->CreateDisk("vm/d", 4 << 20, "g", &d).ok());
  }
};

uint64_t Unflushed(Vault& v) {
  VaultStats st;
  EXPECT_TRUE(v.Stats(&st).ok());
  return st.unflushed_versions;
}

class VaultIndexFlush : public ::testing::TestWithParam<bool> {};

// Past the threshold, versions go to LMDB with nobody calling FlushIndex
// or Sync: in the background, or (option off) in the crossing write.
TEST_P(VaultIndexFlush, VersionsReachLmdbWithoutAnExplicitFlush) {
  Fixture f(GetParam());
  std::string block(4096, 'x');
  for (int i = 0; i < 100; ++i) {
    block[0] = static_cast<char>(i);
    ASSERT_TRUE(f.v->Write(f.d.id, uint64_t(i) * 4096, block.data(), block.size()).ok());
  }
  // The flush that 64 versions asked for takes 64 or more of them out of
  // memory; in the background it may take a moment.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Unflushed(*f.v) >= 64 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_LT(Unflushed(*f.v), 64u);
  VaultStats st;
  ASSERT_TRUE(f.v->Stats(&st).ok());
  EXPECT_EQ(st.block_versions, 100u);
}

// Everything at once while flushes run: a writer with a model, readers,
// instant lookups (whose timeline entries move from memory to LMDB under
// them), points, and new disks (whose ids live in the vault meta that
// each flush also writes).
TEST_P(VaultIndexFlush, EverythingStaysRightWhileFlushesRun) {
  Fixture f(GetParam());
  constexpr int kWrites = 3000;
  constexpr uint64_t kBlocks = 512;
  std::vector<std::string> model(kBlocks, std::string(4096, '\0'));
  struct Written {
    uint64_t before_ns, after_ns, seq;
  };
  std::vector<Written> written(kWrites);
  std::atomic<int> done{0};
  std::atomic<bool> stop{false};
  std::atomic<int> bad_reads{0}, bad_instants{0}, failed_calls{0};

  std::thread writer([&] {
    std::mt19937 rng(7);
    for (int i = 0; i < kWrites; ++i) {
      uint64_t b = rng() % kBlocks;
      std::string data(4096, static_cast<char>(1 + rng() % 250));
      Written w;
      w.before_ns = f.now.load();
      if (!f.v->Write(f.d.id, b * 4096, data.data(), data.size()).ok()) ++failed_calls;
      w.seq = f.v->last_seq();
      w.after_ns = f.now.load();
      model[b] = data;
      written[i] = w;
      done.store(i + 1, std::memory_order_release);
      if (i % 500 == 250 && !f.v->CreatePoint("g", "crash", "", nullptr).ok()) ++failed_calls;
    }
  });
  std::thread reader([&] {
    std::mt19937 rng(8);
    std::string buf(4096, '\0');
    while (!stop.load()) {
      uint64_t b = rng() % kBlocks;
      if (!f.v->Read(f.d.id, f.v->Latest(f.d), b * 4096, 4096, buf.data()).ok()) ++bad_reads;
      if (buf.find_first_not_of(buf[0]) != std::string::npos) ++bad_reads;  // torn
    }
  });
  std::thread instants([&] {
    std::mt19937 rng(9);
    while (!stop.load()) {
      int n = done.load(std::memory_order_acquire);
      if (n == 0) continue;
      const Written& w = written[rng() % n];
      uint64_t at_before, at_after;
      if (!f.v->SeqAtTime(w.before_ns, &at_before).ok() ||
          !f.v->SeqAtTime(w.after_ns, &at_after).ok()) {
        ++failed_calls;
        continue;
      }
      // The write's time lies in (before, after]: before it the write is
      // not seen, after it, it is.
      if (at_before >= w.seq || at_after < w.seq) ++bad_instants;
    }
  });
  std::vector<uint32_t> disk_ids;
  std::thread rows([&] {
    for (int i = 0; i < 8; ++i) {
      Disk d;
      if (!f.v->CreateDisk("vm/extra" + std::to_string(i), 1 << 20, "g", &d).ok()) ++failed_calls;
      disk_ids.push_back(d.id);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  writer.join();
  rows.join();
  stop = true;
  reader.join();
  instants.join();
  EXPECT_EQ(failed_calls.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(bad_instants.load(), 0);

  // Reopen: the data, the points and the ids are all there.
  f.v.reset();
  ASSERT_TRUE(Vault::Open(f.dir / "v", f.oo, &f.v).ok());
  std::string got(kBlocks * 4096, '\0');
  ASSERT_TRUE(f.v->Read(f.d.id, f.v->Latest(f.d), 0, got.size(), got.data()).ok());
  std::string want;
  for (const auto& m : model) want += m;
  EXPECT_TRUE(got == want);
  EXPECT_EQ(f.v->ListPoints("g").size(), 6u);
  Disk after;
  ASSERT_TRUE(f.v->CreateDisk("vm/after", 1 << 20, "g", &after).ok());
  disk_ids.push_back(f.d.id);
  for (uint32_t id : disk_ids) EXPECT_NE(id, after.id) << "disk id handed out twice";
  for (int i = 0; i < kWrites; i += 97) {
    uint64_t at;
    ASSERT_TRUE(f.v->SeqAtTime(written[i].after_ns, &at).ok());
    EXPECT_GE(at, written[i].seq);
    ASSERT_TRUE(f.v->SeqAtTime(written[i].before_ns, &at).ok());
    EXPECT_LT(at, written[i].seq);
  }
}

INSTANTIATE_TEST_SUITE_P(BackgroundOrInline, VaultIndexFlush, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Background" : "Inline"; });

}  // namespace
}  // namespace rpfs::catalog
