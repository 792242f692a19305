// Issue 6 acceptance 2: kill -9 at random moments while compaction runs.
// A child process writes, takes points, compacts and defragments in a loop
// on a simulated clock (a point every 5 minutes, a 1-hour window, a pass of
// each every step); the parent kills it after a random delay, reopens the vault,
// runs a deep verify and reads every point back against the child's write
// log. It goes on until at least 50 kills landed inside a compaction pass.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <set>
#include <sstream>

#include "catalog/vault.h"
#include "catalog/vault_verify.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kBlocks = 256;  // a 1 MiB disk
constexpr uint64_t kStepNs = 5ull * 60 * 1000000000;

void Fill(uint64_t b, uint64_t s, char* out) { rpfs::testing::FillVersion(b, s, out, kBs); }

// Shared with the child: whether it is inside Vault::Compact right now.
struct Shared {
  std::atomic<int> compacting{0};
  std::atomic<int> passes{0};
};

// The child: never returns.
[[noreturn]] void RunChild(const std::string& vault_dir, const std::string& log_path,
                           Shared* shared, uint64_t seed) {
  std::atomic<uint64_t> now{0};
  OpenOptions oo;
  oo.clock = [&now] { return now.load(); };
  std::unique_ptr<Vault> v;
  if (!Vault::Open(vault_dir, oo, &v).ok()) _exit(3);
  VaultStats st;
  if (!v->Stats(&st).ok()) _exit(3);
  now = st.last_time_ns + kStepNs;
  Disk d;
  if (!v->FindDisk("vm/d", &d).ok()) _exit(3);
  FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) _exit(3);
  std::mt19937_64 rng(seed);
  std::string data;
  for (;;) {
    for (int w = 0; w < 16; ++w) {
      const uint64_t b = rng() % 2 ? rng() % (kBlocks / 4) : rng() % kBlocks;
      const uint64_t count = std::min<uint64_t>(1 + rng() % 8, kBlocks - b);
      const uint64_t seq = v->last_seq() + 1;
      data.resize(count * kBs);
      for (uint64_t i = 0; i < count; ++i) Fill(b + i, seq, data.data() + i * kBs);
      // Logged before the write (a process kill keeps what reached the page
      // cache): every write the vault may hold is in the log.
      std::fprintf(log, "%llu %llu %llu\n", static_cast<unsigned long long>(seq),
                   static_cast<unsigned long long>(b), static_cast<unsigned long long>(count));
      std::fflush(log);
      if (!v->Write(d.id, b * kBs, data.data(), data.size()).ok()) _exit(4);
    }
    Point p;
    if (!v->CreatePoint("g", "crash", "", &p).ok()) _exit(5);
    now += kStepNs;
    shared->compacting = 1;
    CompactReport r;
    CompactOptions o;
    o.max_live_fraction = 0.7;
    if (!v->Compact(o, &r).ok()) _exit(6);
    // And defragmentation (vault_defrag.cc), which copies records forward
    // and switches the index the same way: the random writes scatter the
    // disk's one extent again every step.
    DefragReport dr;
    if (!v->Defragment(DefragOptions(), &dr).ok()) _exit(7);
    shared->compacting = 0;
    shared->passes++;
  }
}

class VaultCompactionCrash : public ::testing::Test {};

TEST_F(VaultCompactionCrash, KillNineDuringCompactionLosesNothingPromised) {
  rpfs::testing::TempDir dir;
  const std::string vault_dir = dir / "v";
  const std::string log_path = dir / "writes.log";
  {
    OpenOptions oo;
    oo.clock = [] { return uint64_t{1000} * kStepNs; };
    VaultOptions vo;
    vo.max_segment_bytes = 1 << 20;
    vo.compression_level = 0;
    std::unique_ptr<Vault> v;
    ASSERT_TRUE(Vault::Create(vault_dir, vo, oo, &v).ok());
    Group g;
    g.name = "g";
    g.retention_s = 3600;
    ASSERT_TRUE(v->CreateGroup(g).ok());
    ASSERT_TRUE(v->CreateDisk("vm/d", kBlocks * kBs, "g", nullptr).ok());
  }
  auto* shared = static_cast<Shared*>(
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(shared, MAP_FAILED);
  new (shared) Shared();

  std::mt19937_64 rng(42);
  int kills = 0, in_compaction = 0, points_checked = 0, lost_writes = 0;
  uint64_t reclaimed_segments_seen = 0;
  while (in_compaction < 50 && kills < 400) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) RunChild(vault_dir, log_path, shared, rng());
    // Let it run a while, then kill it wherever it is.
    ::usleep(static_cast<useconds_t>(30000 + rng() % 250000));
    const bool during = shared->compacting.load() == 1;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself, exit code "
                                     << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ++kills;
    if (during) ++in_compaction;
    shared->compacting = 0;

    // The model: which seq last wrote each block, as of every seq. "D S"
    // lines (the parent's) say that the write logged as S before them never
    // became durable.
    auto read_model = [&](std::map<uint64_t, std::map<uint64_t, uint64_t>>* model,
                          std::vector<std::pair<uint64_t, uint64_t>>* writes) {
      std::ifstream in(log_path);
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream ls(line);
        uint64_t seq, b, count;
        if (line.rfind("D ", 0) == 0) {
          const uint64_t dropped = std::stoull(line.substr(2));
          for (auto& [block, seqs] : *model) seqs.erase(dropped);
          continue;
        }
        if (!(ls >> seq >> b >> count)) continue;  // a torn last line
        for (uint64_t i = 0; i < count; ++i) (*model)[b + i][seq] = b;
        writes->emplace_back(seq, b);
      }
    };
    std::unique_ptr<Vault> v;
    Status s = Vault::Open(vault_dir, OpenOptions(), &v);
    ASSERT_TRUE(s.ok()) << "kill " << kills << ": " << s.ToString();
    Disk d;
    ASSERT_TRUE(v->FindDisk("vm/d", &d).ok());
    {
      // Writes after the newest point were not synced: the kill may have
      // lost them (whole: a call cut short is left out). Which did?
      std::map<uint64_t, std::map<uint64_t, uint64_t>> model;
      std::vector<std::pair<uint64_t, uint64_t>> writes;
      read_model(&model, &writes);
      std::vector<Point> pts = v->ListPoints("g");
      const uint64_t synced = pts.empty() ? 0 : pts.back().seq;
      std::ofstream out(log_path, std::ios::app);
      std::string got(kBs, '\0'), want(kBs, '\0');
      std::set<uint64_t> seen;
      for (auto [seq, b] : writes) {
        if (seq <= synced || !seen.insert(seq).second) continue;
        Fill(b, seq, want.data());
        bool present = seq <= v->last_seq() &&
                       v->Read(d.id, View{1, seq}, b * kBs, kBs, got.data()).ok() && got == want;
        if (!present) {
          out << "D " << seq << "\n";
          ++lost_writes;
        }
      }
    }
    std::map<uint64_t, std::map<uint64_t, uint64_t>> model;
    {
      std::vector<std::pair<uint64_t, uint64_t>> writes;
      read_model(&model, &writes);
    }
    VerifyReport vr;
    ASSERT_TRUE(VerifyVault(*v, true, &vr).ok());
    for (const auto& p : vr.problems) ADD_FAILURE() << "kill " << kills << ": " << p;
    if (!vr.problems.empty()) break;
    std::string got(kBlocks * kBs, '\0'), want(kBs, '\0');
    for (const Point& p : v->ListPoints("g")) {
      Status rs = v->Read(d.id, View{p.branch, p.seq}, 0, got.size(), got.data());
      ASSERT_TRUE(rs.ok()) << "kill " << kills << " point " << p.id << ": " << rs.ToString();
      for (uint64_t b = 0; b < kBlocks; ++b) {
        auto& versions = model[b];
        auto it = versions.upper_bound(p.seq);
        if (it == versions.begin()) {
          std::fill(want.begin(), want.end(), '\0');
        } else {
          Fill(b, std::prev(it)->first, want.data());
        }
        if (std::memcmp(got.data() + b * kBs, want.data(), kBs) != 0) {
          // Which version did it read?
          std::string seen = "none of the model's versions";
          std::string probe(kBs, '\0');
          if (std::memcmp(got.data() + b * kBs, probe.data(), kBs) == 0) seen = "zeros";
          for (auto& [seq, _] : versions) {
            Fill(b, seq, probe.data());
            if (std::memcmp(got.data() + b * kBs, probe.data(), kBs) == 0) seen = "seq " + std::to_string(seq);
          }
          FAIL() << "kill " << kills << ": point " << p.id << " (seq " << p.seq << ") block " << b
                 << " reads " << seen << ", the model says seq "
                 << (it == versions.begin() ? 0 : std::prev(it)->first);
        }
      }
      ++points_checked;
    }
    std::vector<uint32_t> retired;
    ASSERT_TRUE(v->catalog().ListRetired(&retired).ok());
    reclaimed_segments_seen = retired.size();
  }
  std::printf("%d kills, %d inside a compaction pass, %d passes completed, %d point reads "
              "checked, %d unsynced writes lost to a kill, %llu segments retired\n",
              kills, in_compaction, shared->passes.load(), points_checked, lost_writes,
              static_cast<unsigned long long>(reclaimed_segments_seen));
  EXPECT_GE(in_compaction, 50);
  EXPECT_GT(reclaimed_segments_seen, 0u) << "compaction never retired a segment: the test proves nothing";
  ::munmap(shared, sizeof(Shared));
}

}  // namespace
}  // namespace rpfs::catalog
