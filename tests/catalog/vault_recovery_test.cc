// Recovery: a vault whose newest segment is cut at every record boundary
// and one byte either side reopens, says what it dropped, and reads back
// exactly the writes before the cut. A process killed before it flushed
// its index loses nothing it synced.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "catalog/vault.h"
#include "journal/segment_reader.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

constexpr uint64_t kDiskSize = 1 << 20;

struct Template {
  std::string path;
  std::string base;                 // disk bytes before the tested writes
  std::vector<std::string> states;  // states[k]: after the first k tested writes
  std::vector<uint64_t> ends;       // ends[k]: newest segment offset after k tested writes
  uint32_t newest = 0;
  size_t point_after = 0;  // a point is taken after this many tested writes
  uint64_t point_end = 0;  // newest segment offset after the point's record
};

// Fills segment 1 past its 1 MiB limit, then makes 40 one-block writes
// (one record each) and a point into segment 2.
void BuildTemplate(const std::string& path, Template* t) {
  t->path = path;
  VaultOptions vo;
  vo.max_segment_bytes = 1 << 20;
  vo.compression_level = 0;
  std::unique_ptr<Vault> v;
  ASSERT_TRUE(Vault::Create(path, vo, OpenOptions(), &v).ok());
  Group g;
  g.name = "g";
  ASSERT_TRUE(v->CreateGroup(g).ok());
  Disk d;
  ASSERT_TRUE(v->CreateDisk("vm/d", kDiskSize, "g", &d).ok());
  std::mt19937 rng(11);
  std::string model(kDiskSize, '\0');
  std::string data(kDiskSize, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  ASSERT_TRUE(v->Write(d.id, 0, data.data(), data.size()).ok());  // ~1 MiB: fills segment 1
  model = data;
  ASSERT_TRUE(v->Write(d.id, 4096, data.data(), 8192).ok());
  model.replace(4096, 8192, data.substr(0, 8192));
  ASSERT_TRUE(v->Sync().ok());
  t->newest = v->journal().Segments().back();
  ASSERT_GE(t->newest, 2u);
  t->base = model;
  t->states.push_back(model);
  t->ends.push_back(v->journal().end().offset);
  t->point_after = 17;
  for (int i = 0; i < 40; ++i) {
    std::string block(4096, static_cast<char>('A' + i % 26));
    block[0] = static_cast<char>(i);
    uint64_t off = 4096 * (rng() % (kDiskSize / 4096));
    ASSERT_TRUE(v->Write(d.id, off, block.data(), block.size()).ok());
    model.replace(off, 4096, block);
    t->states.push_back(model);
    t->ends.push_back(v->journal().end().offset);
    if (static_cast<size_t>(i + 1) == t->point_after) {
      Point p;
      ASSERT_TRUE(v->CreatePoint("g", "crash", "mid", &p).ok());
      t->point_end = v->journal().end().offset;
    }
  }
  ASSERT_EQ(t->newest, v->journal().Segments().back()) << "tested writes must share a segment";
}

TEST(VaultRecovery, NewestSegmentCutAtEveryBoundaryAndOneByteAround) {
  TempDir dir;
  Template t;
  BuildTemplate(dir / "template", &t);
  std::string seg = dir / "template/journal/" + journal::SegmentFileName(t.newest);
  std::set<uint64_t> cuts;
  std::set<uint64_t> boundaries(t.ends.begin(), t.ends.end());
  boundaries.insert(t.point_end);
  for (uint64_t end : boundaries) {
    cuts.insert(end);
    cuts.insert(end - 1);
    cuts.insert(end + 1);
  }
  int checked = 0;
  for (uint64_t cut : cuts) {
    if (cut > t.ends.back() || cut < t.ends[0]) continue;
    std::string copy = dir / ("cut" + std::to_string(cut));
    rpfs::testing::CopyTree(t.path, copy);
    rpfs::testing::TruncateFile(copy + "/journal/" + journal::SegmentFileName(t.newest), cut);
    // Writes whose record ends at or before the cut survive.
    size_t k = 0;
    while (k + 1 < t.ends.size() && t.ends[k + 1] <= cut) ++k;
    std::unique_ptr<Vault> v;
    Status s = Vault::Open(copy, OpenOptions(), &v);
    ASSERT_TRUE(s.ok()) << "cut " << cut << ": " << s.ToString();
    uint64_t last_whole = *std::prev(boundaries.upper_bound(cut));
    bool boundary = last_whole == cut;
    std::string notes;
    for (auto& n : v->recovery_notes()) notes += n + "\n";
    if (!boundary) {
      EXPECT_NE(std::string::npos,
                notes.find("dropped a torn tail of " + std::to_string(cut - last_whole) + " bytes"))
          << "cut " << cut << " notes: " << notes;
      EXPECT_NE(std::string::npos, notes.find(journal::SegmentFileName(t.newest) + " offset " +
                                              std::to_string(last_whole)))
          << notes;
    }
    if (cut < t.ends.back()) {
      EXPECT_NE(std::string::npos, notes.find("catalog: journal ends at seq")) << notes;
    }
    Disk d;
    ASSERT_TRUE(v->FindDisk("vm/d", &d).ok());
    std::string got(kDiskSize, '\0');
    ASSERT_TRUE(v->Read(d.id, v->Latest(d), 0, kDiskSize, got.data()).ok());
    ASSERT_TRUE(got == t.states[k]) << "cut " << cut << " expected " << k << " writes";
    bool point_survives = cut >= t.point_end;
    EXPECT_EQ(point_survives ? 1u : 0u, v->ListPoints("g").size()) << "cut " << cut;
    if (point_survives) {
      View view;
      std::string what;
      ASSERT_TRUE(v->ResolveView(d, "mid", &view, &what).ok());
      ASSERT_TRUE(v->Read(d.id, view, 0, kDiskSize, got.data()).ok());
      EXPECT_TRUE(got == t.states[t.point_after]);
    }
    // New writes after recovery work and survive another reopen.
    std::string block(4096, 'Z');
    ASSERT_TRUE(v->Write(d.id, 0, block.data(), block.size()).ok());
    v.reset();
    ASSERT_TRUE(Vault::Open(copy, OpenOptions(), &v).ok());
    ASSERT_TRUE(v->Read(d.id, v->Latest(d), 0, kDiskSize, got.data()).ok());
    std::string want = t.states[k];
    want.replace(0, 4096, block);
    ASSERT_TRUE(got == want) << "cut " << cut << " after a new write";
    v.reset();
    std::filesystem::remove_all(copy);
    ++checked;
  }
  EXPECT_GE(checked, 3 * 41);
}

// A writer killed after Sync but before its index reached LMDB: reopen
// replays the journal tail and every synced write is there.
TEST(VaultRecovery, KilledWriterLosesNothingSynced) {
  TempDir dir;
  std::string path = dir / "vault";
  {
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Create(path, VaultOptions(), OpenOptions(), &v).ok());
    Group g;
    g.name = "g";
    ASSERT_TRUE(v->CreateGroup(g).ok());
    ASSERT_TRUE(v->CreateDisk("vm/d", kDiskSize, "g", nullptr).ok());
  }
  std::string model(kDiskSize, '\0');
  std::mt19937 rng(5);
  std::vector<std::pair<uint64_t, std::string>> writes;
  for (int i = 0; i < 300; ++i) {
    uint64_t len = 1 + rng() % 20000;
    uint64_t off = rng() % (kDiskSize - len);
    std::string data(len, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    model.replace(off, len, data);
    writes.emplace_back(off, data);
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::unique_ptr<Vault> v;
    Disk d;
    if (!Vault::Open(path, OpenOptions(), &v).ok() || !v->FindDisk("vm/d", &d).ok()) _exit(1);
    for (auto& [off, data] : writes) {
      if (!v->Write(d.id, off, data.data(), data.size()).ok()) _exit(2);
    }
    if (!v->Sync().ok()) _exit(3);
    _exit(0);  // no destructor: the index never reaches LMDB
  }
  int status;
  ASSERT_EQ(pid, ::waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::unique_ptr<Vault> v;
  ASSERT_TRUE(Vault::Open(path, OpenOptions(), &v).ok());
  std::string notes;
  for (auto& n : v->recovery_notes()) notes += n;
  EXPECT_NE(std::string::npos, notes.find("re-indexed")) << notes;
  Disk d;
  ASSERT_TRUE(v->FindDisk("vm/d", &d).ok());
  std::string got(kDiskSize, '\0');
  ASSERT_TRUE(v->Read(d.id, v->Latest(d), 0, kDiskSize, got.data()).ok());
  EXPECT_TRUE(got == model);
}

}  // namespace
}  // namespace rpfs::catalog
