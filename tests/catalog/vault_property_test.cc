// Property test: thousands of random writes (aligned and not, zero and
// not) on two disks with points at random moments; every point and latest
// read back byte-identical to an in-memory model, before and after the
// vault is closed and reopened.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

struct Model {
  std::vector<std::string> disks;                      // current bytes per disk
  std::map<uint64_t, std::vector<std::string>> points;  // point id -> bytes per disk
};

void CheckAgainstModel(Vault& v, const std::vector<Disk>& disks, const Model& m) {
  for (size_t i = 0; i < disks.size(); ++i) {
    std::string got(disks[i].size, '\0');
    ASSERT_TRUE(v.Read(disks[i].id, v.Latest(disks[i]), 0, got.size(), got.data()).ok());
    ASSERT_TRUE(got == m.disks[i]) << "latest of " << disks[i].name;
  }
  for (const auto& [id, snap] : m.points) {
    for (size_t i = 0; i < disks.size(); ++i) {
      View view;
      std::string what;
      ASSERT_TRUE(v.ResolveView(disks[i], std::to_string(id), &view, &what).ok());
      std::string got(disks[i].size, '\0');
      ASSERT_TRUE(v.Read(disks[i].id, view, 0, got.size(), got.data()).ok());
      ASSERT_TRUE(got == snap[i]) << "point " << id << " of " << disks[i].name;
    }
  }
}

void RunProperty(uint32_t seed, int writes, size_t flush_entries) {
  TempDir dir;
  std::string path = dir / "vault";
  std::mt19937_64 rng(seed);
  Model m;
  std::vector<Disk> disks(2);
  OpenOptions oo;
  oo.index_flush_entries = flush_entries;
  {
    VaultOptions vo;
    vo.max_segment_bytes = 1 << 20;  // many segments, many rolls
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Create(path, vo, oo, &v).ok());
    Group g;
    g.name = "web";
    ASSERT_TRUE(v->CreateGroup(g).ok());
    ASSERT_TRUE(v->CreateDisk("iis1/disk0", 3 << 20, "web", &disks[0]).ok());
    ASSERT_TRUE(v->CreateDisk("iis1/disk1", (2 << 20) + 4096 * 3, "web", &disks[1]).ok());
    for (auto& d : disks) m.disks.emplace_back(d.size, '\0');

    for (int i = 0; i < writes; ++i) {
      size_t di = rng() % 2;
      const uint64_t size = disks[di].size;
      uint64_t len, off;
      switch (rng() % 4) {
        case 0:  // aligned blocks
          len = 4096 * (1 + rng() % 8);
          off = 4096 * (rng() % (size / 4096 - len / 4096 + 1));
          break;
        case 1:  // tiny, unaligned
          len = 1 + rng() % 700;
          off = rng() % (size - len + 1);
          break;
        default:  // anything
          len = 1 + rng() % 40000;
          off = rng() % (size - len + 1);
      }
      std::string data(len, '\0');
      uint64_t kind = rng() % 5;
      if (kind == 1) {
        for (auto& c : data) c = static_cast<char>(rng());
      } else if (kind >= 2) {  // compressible
        char c = static_cast<char>('a' + rng() % 26);
        for (size_t j = 0; j < len; ++j) data[j] = static_cast<char>(c + (j / 97) % 3);
      }  // kind 0: zeros
      ASSERT_TRUE(v->Write(disks[di].id, off, data.data(), len).ok());
      m.disks[di].replace(off, len, data);
      if (rng() % 400 == 0) {
        Point p;
        ASSERT_TRUE(v->CreatePoint("web", rng() % 2 ? "app" : "crash", "", &p).ok());
        m.points[p.id] = m.disks;
      }
    }
    ASSERT_GE(m.points.size(), 5u);
    CheckAgainstModel(*v, disks, m);
  }
  std::unique_ptr<Vault> v;
  ASSERT_TRUE(Vault::Open(path, oo, &v).ok());
  EXPECT_TRUE(v->recovery_notes().empty());
  CheckAgainstModel(*v, disks, m);
}

TEST(VaultProperty, TenThousandRandomWritesMatchModel) { RunProperty(1, 10000, 1 << 18); }

// A tiny flush threshold moves entries to LMDB mid-stream, so lookups mix
// in-memory and LMDB versions of the same block.
TEST(VaultProperty, FrequentIndexFlushesMatchModel) { RunProperty(2, 10000, 100); }

}  // namespace
}  // namespace rpfs::catalog
