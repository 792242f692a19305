// Writers, syncers and readers at once (as FUSE threads will be): every
// write is there afterwards, reads never fail or tear a block, and
// concurrent syncs share fdatasyncs instead of failing.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

TEST(VaultConcurrency, WritersSyncersAndReadersTogether) {
  rpfs::testing::TempDir dir;
  OpenOptions oo;
  oo.index_flush_entries = 500;  // flushes happen while readers read
  std::unique_ptr<Vault> v;
  ASSERT_TRUE(Vault::Create(dir / "v", VaultOptions(), oo, &v).ok());
  Group g;
  g.name = "g";
  ASSERT_TRUE(v->CreateGroup(g).ok());
  Disk d;
  constexpr int kWriters = 4;
  constexpr uint64_t kRegion = 256 << 10;  // each writer owns one region
  ASSERT_TRUE(v->CreateDisk("vm/d", kWriters * kRegion, "g", &d).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0}, torn{0};
  std::vector<std::string> model(kWriters, std::string(kRegion, '\0'));
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int i = 0; i < 1500; ++i) {
        uint64_t block = rng() % (kRegion / 4096);
        // A block is filled with one byte value, so a torn read shows.
        std::string data(4096, static_cast<char>(1 + rng() % 250));
        ASSERT_TRUE(v->Write(d.id, w * kRegion + block * 4096, data.data(), data.size()).ok());
        model[w].replace(block * 4096, 4096, data);
        if (i % 50 == 0) {
          ASSERT_TRUE(v->Sync().ok());
        }
        if (w == 0 && i % 300 == 0) {
          ASSERT_TRUE(v->CreatePoint("g", "crash", "", nullptr).ok());
        }
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(100 + r);
      std::string buf(4096, '\0');
      while (!stop.load()) {
        uint64_t block = rng() % (kWriters * kRegion / 4096);
        if (!v->Read(d.id, v->Latest(d), block * 4096, 4096, buf.data()).ok()) ++read_errors;
        for (char c : buf) {
          if (c != buf[0]) {
            ++torn;
            break;
          }
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(0, read_errors.load());
  EXPECT_EQ(0, torn.load());
  std::string got(kWriters * kRegion, '\0');
  ASSERT_TRUE(v->Read(d.id, v->Latest(d), 0, got.size(), got.data()).ok());
  std::string want;
  for (auto& m : model) want += m;
  EXPECT_TRUE(got == want);
  EXPECT_EQ(5u, v->ListPoints("g").size());
}

}  // namespace
}  // namespace rpfs::catalog
