// The batched scan (catalog/vault_scan.h): the same bytes as per-block
// reads (Vault::Read) for every view, across segment files, batches,
// scattered rewrites, zero blocks, points and forked branches (versions
// found on the parent branch); a flipped bit in
// one record inside a batch is Corruption naming the disk, the block, the
// segment and the offset, after exactly the blocks before it; a consumer
// that fails stops the scan.
#include "catalog/vault_scan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "catalog/vault.h"
#include "journal/payload_codec.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

// A block of `kind`: 0 zeros, 1 text (compresses), 2 random (stored).
std::string MakeBlock(size_t bs, int kind, std::mt19937_64& rng) {
  std::string b(bs, '\0');
  if (kind == 1) {
    const uint64_t tag = rng();
    for (size_t i = 0; i < bs; ++i) b[i] = static_cast<char>('a' + (i / 37 + tag) % 23);
  } else if (kind == 2) {
    for (char& c : b) c = static_cast<char>(rng());
  }
  return b;
}

struct Scanned {
  Status status;
  std::vector<uint64_t> blocks;  // delivered, in order
  std::string bytes;             // their bytes, in order
};

Scanned Scan(Vault& v, const Disk& d, View view) {
  Scanned out;
  const uint64_t bs = v.block_size();
  out.status = ScanBlockRuns(v, d.id, view, [&](uint64_t first, const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) out.blocks.push_back(first + i);
    out.bytes.append(data, n * bs);
    return Status::OK();
  });
  return out;
}

// The scan of `view` equals Vault::Read block by block: every block that
// reads non-zero is delivered once, in order, with those bytes; no other.
void ExpectScanMatchesReads(Vault& v, const Disk& d, View view) {
  const uint64_t bs = v.block_size();
  std::string all(d.size, '\0');
  ASSERT_TRUE(v.Read(d.id, view, 0, all.size(), all.data()).ok());
  std::vector<uint64_t> want_blocks;
  std::string want_bytes;
  for (uint64_t b = 0; b < d.size / bs; ++b) {
    if (journal::IsAllZero(all.data() + b * bs, bs)) continue;
    want_blocks.push_back(b);
    want_bytes.append(all, b * bs, bs);
  }
  Scanned got = Scan(v, d, view);
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  EXPECT_EQ(want_blocks, got.blocks);
  EXPECT_TRUE(want_bytes == got.bytes) << "scanned bytes differ from Vault::Read";
  // Vault::ScanData, the per-block form, is the same scan.
  std::vector<uint64_t> per_block;
  std::string per_block_bytes;
  ASSERT_TRUE(v.ScanData(d.id, view, [&](uint64_t b, const char* data) {
                 per_block.push_back(b);
                 per_block_bytes.append(data, bs);
                 return Status::OK();
               }).ok());
  EXPECT_EQ(want_blocks, per_block);
  EXPECT_TRUE(want_bytes == per_block_bytes);
}

class VaultScanTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void Create(uint64_t disk_bytes) {
    VaultOptions vo;
    vo.block_size = GetParam();
    vo.max_segment_bytes = 1 << 20;  // many segment files: batches cross them
    ASSERT_TRUE(Vault::Create(dir_ / "v", vo, OpenOptions(), &v_).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v_->CreateGroup(g).ok());
    ASSERT_TRUE(v_->CreateDisk("vm/d", disk_bytes, "g", &d_).ok());
    ASSERT_TRUE(v_->CreateDisk("vm/other", disk_bytes, "g", &other_).ok());
  }
  // Writes `blocks` blocks from `first` on, kinds drawn at random; each
  // call is one Vault::Write.
  void WriteBlocks(uint32_t branch, const Disk& d, uint64_t first, uint64_t blocks) {
    const uint64_t bs = v_->block_size();
    std::string data;
    for (uint64_t i = 0; i < blocks; ++i) {
      const uint64_t r = rng_() % 10;
      data += MakeBlock(bs, r == 0 ? 0 : r < 6 ? 1 : 2, rng_);
    }
    Status s = v_->WriteBranch(d.id, branch, first * bs, data.data(), data.size());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::mt19937_64 rng_{7};
  TempDir dir_;
  std::unique_ptr<Vault> v_;
  Disk d_, other_;
};

TEST_P(VaultScanTest, SameBytesAsPerBlockReadsForEveryView) {
  const uint64_t bs = GetParam();
  const uint64_t blocks = (20u << 20) / bs;  // several batches of 4 MiB
  Create(blocks * bs);
  // Sequential writes in pieces, another disk's records interleaved (gaps
  // inside stretches), one run left never written.
  for (uint64_t b = 0; b < blocks / 2; b += 64) {
    WriteBlocks(1, d_, b, 64);
    if (b % 256 == 0) WriteBlocks(1, other_, b, 8);
  }
  WriteBlocks(1, d_, blocks * 3 / 4, blocks / 8);
  Point p;
  ASSERT_TRUE(v_->CreatePoint("g", "crash", "", &p).ok());
  // Scattered rewrites after the point, some of them zeros: newer versions
  // whose records are out of block order.
  for (int i = 0; i < 300; ++i) WriteBlocks(1, d_, rng_() % (blocks - 4), 1 + rng_() % 4);
  // A branch forked at the point: its view finds every block on the
  // parent branch, bounded by the fork seq.
  Branch br;
  ASSERT_TRUE(v_->Failover("g", View{p.branch, p.seq}, "test1", /*test=*/true, &br).ok());
  ASSERT_GT(v_->journal().Segments().size(), 5u);

  ExpectScanMatchesReads(*v_, d_, v_->Latest(d_));
  ExpectScanMatchesReads(*v_, d_, View{p.branch, p.seq});
  ExpectScanMatchesReads(*v_, d_, View{br.id, kMaxSeq});
  ExpectScanMatchesReads(*v_, other_, v_->Latest(other_));
  // The same after reopening: everything read from sealed segment files.
  v_.reset();
  ASSERT_TRUE(Vault::Open(dir_ / "v", OpenOptions(), &v_).ok());
  ExpectScanMatchesReads(*v_, d_, v_->Latest(d_));
  ExpectScanMatchesReads(*v_, d_, View{br.id, kMaxSeq});
}

TEST_P(VaultScanTest, AFailingConsumerStopsTheScan) {
  const uint64_t bs = GetParam();
  const uint64_t blocks = (24u << 20) / bs;  // more batches than the pipe holds
  Create(blocks * bs);
  for (uint64_t b = 0; b < blocks; b += 256) WriteBlocks(1, d_, b, 256);
  int calls = 0;
  Status s = ScanBlockRuns(*v_, d_.id, v_->Latest(d_), [&](uint64_t, const char*, size_t) {
    return ++calls == 3 ? Status::IOError("consumer gave up") : Status::OK();
  });
  EXPECT_EQ(Status::Code::kIOError, s.code());
  EXPECT_EQ("consumer gave up", s.message());
  EXPECT_EQ(3, calls);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, VaultScanTest, ::testing::Values(4096u, 1024u, 16384u));

// One flipped bit in the record of one block inside a batch, for a stored
// and a compressed record, in the payload and in the header: the scan
// fails with Corruption naming disk, block, segment and offset, and has
// delivered exactly the blocks before it, with their right bytes.
TEST(VaultScanCorruption, FlippedBitInsideABatchNamesTheBlock) {
  TempDir dir;
  const std::string tmpl = dir / "template";
  const uint64_t bs = 4096, blocks = 3000;
  std::string pristine;  // the disk's bytes
  Disk d;
  {
    VaultOptions vo;
    vo.max_segment_bytes = 2 << 20;
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Create(tmpl, vo, OpenOptions(), &v).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v->CreateGroup(g).ok());
    ASSERT_TRUE(v->CreateDisk("vm/d", blocks * bs, "g", &d).ok());
    std::mt19937_64 rng(11);
    for (uint64_t b = 0; b < blocks; ++b) pristine += MakeBlock(bs, 1 + (b / 3) % 2, rng);
    for (uint64_t b = 0; b < blocks; b += 100) {
      ASSERT_TRUE(v->Write(d.id, b * bs, pristine.data() + b * bs, 100 * bs).ok());
    }
  }
  struct Case {
    const char* what;
    bool compressed;     // the target record's kind
    uint64_t at;         // byte of the record to flip: 0 crc, 16 seq, 48+ payload
  };
  for (const Case& c : {Case{"stored payload", false, 48 + 1000},
                        Case{"stored header seq", false, 16},
                        Case{"compressed payload", true, 48 + 20},
                        Case{"compressed crc", true, 0}}) {
    SCOPED_TRACE(c.what);
    const std::string copy = dir / "copy";
    std::filesystem::remove_all(copy);
    rpfs::testing::CopyTree(tmpl, copy);
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Open(copy, OpenOptions(), &v).ok());
    // A block well inside the second batch (blocks 1024..2047), of the kind wanted.
    uint64_t target = 1500;
    FoundBlock f;
    for (;; ++target) {
      ASSERT_TRUE(v->catalog().blocks().Read([&](BlockMap::Reader& r) {
                     return r.Find(d.id, v->ChainFor(v->Latest(d)), target, &f);
                   }).ok());
      ASSERT_TRUE(f.found);
      if (((f.version.flags & journal::kZstd) != 0) == c.compressed) break;
    }
    ASSERT_LT(c.at, f.version.loc.size);
    const std::string segment = journal::SegmentFileName(f.version.loc.segment);
    rpfs::testing::FlipBit(copy + "/journal/" + segment, f.version.loc.offset + c.at, 3);

    Scanned got = Scan(*v, d, v->Latest(d));
    EXPECT_TRUE(got.status.IsCorruption()) << got.status.ToString();
    const std::string& m = got.status.message();
    EXPECT_NE(std::string::npos, m.find("disk vm/d block " + std::to_string(target) + ": ")) << m;
    EXPECT_NE(std::string::npos,
              m.find("segment " + segment + " offset " + std::to_string(f.version.loc.offset)))
        << m;
    ASSERT_EQ(target, got.blocks.size());  // every block before it, none after
    for (uint64_t b = 0; b < target; ++b) ASSERT_EQ(b, got.blocks[b]);
    EXPECT_TRUE(got.bytes == pristine.substr(0, target * bs));
  }
}

}  // namespace
}  // namespace rpfs::catalog
