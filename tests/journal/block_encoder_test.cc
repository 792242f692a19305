// BlockEncoder: every block round-trips through DecodePayload whatever the
// encoder chose, compression backs off on incompressible runs and comes
// back (per thread), fast (negative) levels compress, and a parallel run
// gives what a serial one would. WorkerPool: each
// index runs exactly once, also with several callers at once.
#include "journal/block_encoder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "journal/payload_codec.h"
#include "journal/record_format.h"
#include "journal/worker_pool.h"

namespace rpfs::journal {
namespace {

constexpr size_t kBlock = 4096;

std::string RandomBlock(std::mt19937& rng) {
  std::string b(kBlock, '\0');
  for (auto& c : b) c = static_cast<char>(rng());
  return b;
}

std::string TextBlock(int i) {
  std::string b;
  while (b.size() < kBlock) b += "block " + std::to_string(i) + " of a compressible run; ";
  b.resize(kBlock);
  return b;
}

std::string Decode(const EncodedBlock& e) {
  std::string out(kBlock, '\x55');
  Status s = DecodePayload(e.flags, e.body, e.body_len, out.data(), kBlock);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(BlockEncoder, ZeroCompressibleAndRandomBlocksRoundTrip) {
  BlockEncoder enc(1);
  std::mt19937 rng(1);
  std::string zero(kBlock, '\0'), text = TextBlock(1), random = RandomBlock(rng);
  EncodedBlock e;
  enc.Encode(0, zero.data(), kBlock, &e);
  EXPECT_EQ(e.flags, kZero);
  EXPECT_EQ(Decode(e), zero);
  enc.Encode(0, text.data(), kBlock, &e);
  EXPECT_EQ(e.flags, kZstd);
  EXPECT_LT(e.body_len, kBlock / 4);
  EXPECT_EQ(Decode(e), text);
  enc.Encode(0, random.data(), kBlock, &e);
  EXPECT_EQ(e.flags, 0);
  EXPECT_EQ(e.body, random.data());  // stored in place: no copy
  EXPECT_EQ(Decode(e), random);
}

TEST(BlockEncoder, LevelZeroStoresEverythingButZeros) {
  BlockEncoder enc(0);
  std::string text = TextBlock(2);
  EncodedBlock e;
  enc.Encode(0, text.data(), kBlock, &e);
  EXPECT_EQ(e.flags, 0);
  EXPECT_EQ(Decode(e), text);
}

TEST(BlockEncoder, BacksOffOnIncompressibleRunsPerStreamAndRecovers) {
  BlockEncoder enc(1);
  std::mt19937 rng(2);
  EncodedBlock e;
  // A long incompressible run on stream 3: attempts become rare.
  for (int i = 0; i < 200; ++i) {
    std::string r = RandomBlock(rng);
    enc.Encode(3, r.data(), kBlock, &e);
    ASSERT_EQ(e.flags, 0);
  }
  // Stream 4 is not affected by stream 3's history.
  std::string text = TextBlock(3);
  enc.Encode(4, text.data(), kBlock, &e);
  EXPECT_EQ(e.flags, kZstd);
  // On stream 3, compressible data is stored while the stretch lasts
  // (at most 64 blocks), then compressed again from the first success on.
  int stored = 0;
  for (int i = 0; i < 65 && (enc.Encode(3, text.data(), kBlock, &e), e.flags == 0); ++i) ++stored;
  EXPECT_GT(stored, 0);
  EXPECT_LE(stored, 64);
  EXPECT_EQ(e.flags, kZstd);
  for (int i = 0; i < 10; ++i) {
    enc.Encode(3, text.data(), kBlock, &e);
    EXPECT_EQ(e.flags, kZstd) << i;
    EXPECT_EQ(Decode(e), text);
  }
}

TEST(BlockEncoder, BackOffIsPerThreadSoOneWritersRandomDataSkipsNoOtherWritersBlocks) {
  // Two writers of one disk (an import's pieces, FUSE requests): one
  // writes random bytes and backs off, the other writes text at the same
  // time. The text must still be compressed from its first block on.
  BlockEncoder enc(1);
  std::thread random_writer([&] {
    std::mt19937 rng(4);
    EncodedBlock e;
    for (int i = 0; i < 20; ++i) {
      std::string r = RandomBlock(rng);
      enc.Encode(5, r.data(), kBlock, &e);
      ASSERT_EQ(e.flags, 0);
    }
  });
  random_writer.join();  // its stretch is long now, and it stopped mid-skip
  std::thread text_writer([&] {
    EncodedBlock e;
    for (int i = 0; i < 5; ++i) {
      std::string text = TextBlock(i);
      enc.Encode(5, text.data(), kBlock, &e);
      EXPECT_EQ(e.flags, kZstd) << "block " << i << " of the text writer was not compressed";
      EXPECT_EQ(Decode(e), text);
    }
  });
  text_writer.join();
}

TEST(BlockEncoder, FastLevelsCompress) {
  // Negative levels are zstd's fast ones (the vault default is -1), not
  // "off": only level 0 stores everything.
  for (int level : {-1, -7}) {
    BlockEncoder enc(level);
    std::string text = TextBlock(7);
    EncodedBlock e;
    enc.Encode(0, text.data(), kBlock, &e);
    EXPECT_EQ(e.flags, kZstd) << "level " << level;
    EXPECT_LT(e.body_len, kBlock / 2) << "level " << level;
    EXPECT_EQ(Decode(e), text);
  }
}

TEST(BlockEncoder, ParallelRunMatchesTheData) {
  BlockEncoder enc(1);
  std::mt19937 rng(3);
  const size_t n = 1000;
  std::string data;
  for (size_t i = 0; i < n; ++i) {
    switch (i % 3) {
      case 0: data += TextBlock(static_cast<int>(i)); break;
      case 1: data += std::string(kBlock, '\0'); break;
      default: data += RandomBlock(rng); break;
    }
  }
  std::vector<EncodedBlock> out(n);
  enc.EncodeRun(9, data.data(), n, kBlock, out.data());
  size_t compressed = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(Decode(out[i]), data.substr(i * kBlock, kBlock)) << "block " << i;
    if (i % 3 == 1) {
      EXPECT_EQ(out[i].flags, kZero) << i;
    }
    compressed += out[i].flags == kZstd;
  }
  EXPECT_GT(compressed, 0u);
}

TEST(WorkerPool, RunsEveryIndexOnceAlsoForConcurrentCallers) {
  WorkerPool pool(3);
  const size_t n = 5000;
  std::vector<std::atomic<int>> hits(4 * n);
  std::vector<std::thread> callers;
  for (size_t c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 20; ++round) {
        pool.Run(n, [&](size_t i) { hits[c * n + i].fetch_add(1); });
      }
    });
  }
  for (auto& t : callers) t.join();
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 20) << i;
}

TEST(WorkerPool, WithoutHelpersRunsInline) {
  WorkerPool pool(0);
  std::thread::id me = std::this_thread::get_id();
  size_t calls = 0;
  pool.Run(100, [&](size_t) {
    EXPECT_EQ(std::this_thread::get_id(), me);
    ++calls;
  });
  EXPECT_EQ(calls, 100u);
}

}  // namespace
}  // namespace rpfs::journal
