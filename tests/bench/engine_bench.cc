// engine_bench: the Vault engine next to a plain file on the same file
// system, measured in one run so the ratios compare like with like.
//
//   engine_bench SCRATCH_DIR [--seq-mib N] [--region-mib N] [--rand-writes N]
//                [--reads N] [--later-versions N] [--seed N]
//
// SCRATCH_DIR holds the vault (vault/) and the plain files (plain_*.bin);
// the caller removes it. Figures, each as engine, plain, engine/plain:
//
//   seq write    --seq-mib MiB in 1 MiB writes at increasing offsets, then
//                one Vault::Sync / one fsync. Wall time of the whole loop
//                plus the sync; MB/s = 10^6 bytes per second.
//   rand write   --rand-writes 4 KiB writes at random aligned offsets of a
//                --region-mib disk (the plain file is ftruncate'd to the
//                same size first), same offsets and bytes on both sides,
//                then one Sync / fsync. Wall time of loop plus sync; IOPS.
//   latest read  --reads 4 KiB reads at random blocks that rand write wrote,
//                through Vault::Latest vs pread of the plain file.
//   point read   a point taken after rand write, then --later-versions more
//                random 4 KiB writes to the disk (untimed), then --reads
//                reads of random written blocks through the point's View
//                vs pread of the plain file (which still holds exactly the
//                point's data).
//
// Page cache: it cannot be dropped reliably here, so every read figure is
// warm on both sides: one untimed pass over the same offsets first, which
// also checks that the engine returns the plain file's bytes. Writes start
// after a sync(2) so earlier phases' dirty pages do not land on them.
// Growing the page cache is part of a write's cost and is left in: the
// journal grows by every write, the plain file only by blocks it has not
// held yet (in a VM, first touch of guest memory is slow, which shows).
// The seq write figure includes the index flush the engine does when
// its in-memory index fills (every 2^18 blocks, i.e. at 1 GiB).
//
// Data: xoshiro256** bytes, incompressible, generated before the timed
// loops (generation is not I/O). Every write carries distinct bytes while
// the data fits the 1 GiB pool; past that the pool repeats, which the
// engine cannot exploit (it compresses each 4 KiB block on its own and
// does not deduplicate). Default vault options: zstd level 1, as shipped.
//
// Exit 0 after a full run (targets are reported, not asserted), 1 on bad
// arguments, 2 if the engine returns wrong data, 3 on any failed call.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "catalog/vault.h"

namespace rpfs::bench {
namespace {

using catalog::Disk;
using catalog::Point;
using catalog::Vault;
using catalog::View;
using Clock = std::chrono::steady_clock;

constexpr size_t kBlock = 4096;
constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kMaxPoolBytes = 1ull << 30;
constexpr uint64_t kPointVersionsTarget = 1000000;

struct BenchOptions {
  std::string scratch;
  uint64_t seq_bytes = 1024 * kMiB;
  uint64_t region_bytes = 256 * kMiB;
  uint64_t rand_writes = 100000;
  uint64_t reads = 100000;
  uint64_t later_versions = kPointVersionsTarget;
  uint64_t seed = 1;
};

[[noreturn]] void Die(const std::string& what, const std::string& why) {
  std::fprintf(stderr, "engine_bench: %s: %s\n", what.c_str(), why.c_str());
  std::exit(3);
}

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s.ToString());
}

void CheckSys(bool ok, const std::string& what) {
  if (!ok) Die(what, std::strerror(errno));
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// xoshiro256**: about a nanosecond per 8 bytes, far below the I/O cost, and its
// output is incompressible to zstd.
class RandomBytes {
 public:
  explicit RandomBytes(uint64_t seed) {
    for (auto& s : state_) {
      seed += 0x9e3779b97f4a7c15ull;  // splitmix64 spreads a small seed
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }
  uint64_t Below(uint64_t n) { return Next() % n; }  // modulo bias is negligible for n << 2^64
  void Fill(char* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v = Next();
      std::memcpy(p + i, &v, 8);
    }
    for (; i < n; ++i) p[i] = static_cast<char>(Next());
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Random bytes generated up front; Slice(i) is the i-th piece,
// wrapping once the pool is used up.
class DataPool {
 public:
  DataPool(RandomBytes& rng, uint64_t bytes, size_t piece)
      : size_(std::max<uint64_t>(piece, std::min(bytes, kMaxPoolBytes) / piece * piece)),
        piece_(piece),
        data_(new char[size_]) {
    rng.Fill(data_.get(), size_);
  }
  const char* Slice(uint64_t i) const { return data_.get() + (i * piece_) % size_; }
  uint64_t size() const { return size_; }

 private:
  uint64_t size_;
  size_t piece_;
  std::unique_ptr<char[]> data_;
};

void PwriteFully(int fd, const char* p, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t got = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    CheckSys(got > 0, "pwrite " + path);
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

void PreadFully(int fd, char* p, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    CheckSys(got >= 0, "pread " + path);
    if (got == 0) Die("pread " + path, "unexpected end of file");
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

struct WriteTiming {
  double loop_s = 0;
  double sync_s = 0;
  double total() const { return loop_s + sync_s; }
};

// Lets the previous phase's dirty pages reach the disk before a timed
// write phase starts, so one side does not pay for the other's writeback.
void SettleDirtyPages() { ::sync(); }

// Times a write loop and the one sync that ends it, after settling dirty
// pages from earlier phases.
template <class Loop, class Sync>
WriteTiming TimeWrites(Loop loop, Sync sync) {
  SettleDirtyPages();
  WriteTiming t;
  auto start = Clock::now();
  loop();
  auto looped = Clock::now();
  sync();
  t.loop_s = Seconds(looped - start);
  t.sync_s = Seconds(Clock::now() - looped);
  return t;
}

WriteTiming PlainSeqWrite(const std::string& path, const DataPool& pool, uint64_t bytes) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CheckSys(fd >= 0, "create " + path);
  WriteTiming t = TimeWrites(
      [&] {
        for (uint64_t off = 0, i = 0; off < bytes; off += kChunk, ++i) {
          PwriteFully(fd, pool.Slice(i), std::min<uint64_t>(kChunk, bytes - off), off, path);
        }
      },
      [&] { CheckSys(::fsync(fd) == 0, "fsync " + path); });
  ::close(fd);
  return t;
}

WriteTiming EngineSeqWrite(Vault& vault, const Disk& disk, const DataPool& pool, uint64_t bytes) {
  return TimeWrites(
      [&] {
        for (uint64_t off = 0, i = 0; off < bytes; off += kChunk, ++i) {
          Check(vault.Write(disk.id, off, pool.Slice(i), std::min<uint64_t>(kChunk, bytes - off)),
                "write " + disk.name);
        }
      },
      [&] { Check(vault.Sync(), "sync"); });
}

WriteTiming PlainRandWrite(const std::string& path, uint64_t region_bytes,
                           const std::vector<uint64_t>& offsets, const DataPool& pool) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CheckSys(fd >= 0, "create " + path);
  CheckSys(::ftruncate(fd, static_cast<off_t>(region_bytes)) == 0, "ftruncate " + path);
  WriteTiming t = TimeWrites(
      [&] {
        for (size_t i = 0; i < offsets.size(); ++i) {
          PwriteFully(fd, pool.Slice(i), kBlock, offsets[i], path);
        }
      },
      [&] { CheckSys(::fsync(fd) == 0, "fsync " + path); });
  ::close(fd);
  return t;
}

WriteTiming EngineRandWrite(Vault& vault, const Disk& disk, const std::vector<uint64_t>& offsets,
                            const DataPool& pool) {
  return TimeWrites(
      [&] {
        for (size_t i = 0; i < offsets.size(); ++i) {
          Check(vault.Write(disk.id, offsets[i], pool.Slice(i), kBlock), "write " + disk.name);
        }
      },
      [&] { Check(vault.Sync(), "sync"); });
}

// The untimed pass that warms both sides' caches and checks that the
// engine's view holds the plain file's bytes at every offset.
void WarmAndVerify(Vault& vault, const Disk& disk, View view, int plain_fd,
                   const std::string& plain_path, const std::vector<uint64_t>& offsets,
                   const std::string& figure) {
  std::vector<char> expected(kBlock), got(kBlock);
  for (uint64_t off : offsets) {
    PreadFully(plain_fd, expected.data(), kBlock, off, plain_path);
    Check(vault.Read(disk.id, view, off, kBlock, got.data()), "read " + disk.name);
    if (std::memcmp(expected.data(), got.data(), kBlock) != 0) {
      std::fprintf(stderr,
                   "engine_bench: %s: disk %s offset %" PRIu64
                   " (view branch %u seq %" PRIu64 ") differs from the plain file\n",
                   figure.c_str(), disk.name.c_str(), off, view.branch, view.seq);
      std::exit(2);
    }
  }
}

double PlainRandRead(int fd, const std::string& path, const std::vector<uint64_t>& offsets) {
  std::vector<char> buf(kBlock);
  auto start = Clock::now();
  for (uint64_t off : offsets) PreadFully(fd, buf.data(), kBlock, off, path);
  return Seconds(Clock::now() - start);
}

double EngineRandRead(Vault& vault, const Disk& disk, View view,
                      const std::vector<uint64_t>& offsets) {
  std::vector<char> buf(kBlock);
  auto start = Clock::now();
  for (uint64_t off : offsets) {
    Check(vault.Read(disk.id, view, off, kBlock, buf.data()), "read " + disk.name);
  }
  return Seconds(Clock::now() - start);
}

std::vector<uint64_t> RandomBlockOffsets(RandomBytes& rng, uint64_t region_bytes, uint64_t n) {
  std::vector<uint64_t> out(n);
  for (auto& off : out) off = rng.Below(region_bytes / kBlock) * kBlock;
  return out;
}

// Reads only hit blocks that hold data on both sides: a never-written
// block costs the engine no I/O and the plain file a hole read, so
// including them would measure how cheaply each side returns nothing.
std::vector<uint64_t> SampleOf(RandomBytes& rng, const std::vector<uint64_t>& from, uint64_t n) {
  std::vector<uint64_t> out(n);
  for (auto& off : out) off = from[rng.Below(from.size())];
  return out;
}

struct Figure {
  std::string name;
  double engine = 0;  // MB/s or IOPS, higher is better
  double plain = 0;
  std::string unit;
  double target = 0;  // minimum engine/plain ratio, 0 = report only
};

std::string FormatRate(double v, const std::string& unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, unit == "IOPS" ? "%.0f %s" : "%.1f %s", v, unit.c_str());
  return buf;
}

void PrintTable(const std::vector<Figure>& figures) {
  std::printf("%-44s %15s %15s %7s  %s\n", "figure", "engine", "plain", "ratio", "target");
  for (const Figure& f : figures) {
    const double ratio = f.engine / f.plain;
    std::string target = "none (report only)";
    if (f.target > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, ">= %.2fx %s", f.target, ratio >= f.target ? "met" : "MISSED");
      target = buf;
    }
    std::printf("%-44s %15s %15s %6.2fx  %s\n", f.name.c_str(),
                FormatRate(f.engine, f.unit).c_str(), FormatRate(f.plain, f.unit).c_str(), ratio,
                target.c_str());
  }
}

uint64_t AllocatedBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  if (ec) Die("walk " + dir, ec.message());
  return total;
}

double GiB(uint64_t bytes) { return static_cast<double>(bytes) / (1ull << 30); }
double MiB(uint64_t bytes) { return static_cast<double>(bytes) / kMiB; }

constexpr char kUsage[] =
    "usage: engine_bench SCRATCH_DIR [--seq-mib N] [--region-mib N] [--rand-writes N]\n"
    "                    [--reads N] [--later-versions N] [--seed N]\n";

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "engine_bench: %s\n%s", why.c_str(), kUsage);
  std::exit(1);
}

BenchOptions ParseArgs(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o.scratch.empty()) Usage("more than one scratch directory");
      o.scratch = arg;
      continue;
    }
    if (i + 1 >= argc) Usage(arg + " needs a value");
    std::string value = argv[++i];
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || value[0] == '-') {
      Usage("bad value '" + value + "' for " + arg);
    }
    if (arg == "--seed") {
      o.seed = n;
      continue;
    }
    if (n == 0) Usage(arg + " must be > 0");
    if (arg == "--seq-mib") {
      o.seq_bytes = n * kMiB;
    } else if (arg == "--region-mib") {
      o.region_bytes = n * kMiB;
    } else if (arg == "--rand-writes") {
      o.rand_writes = n;
    } else if (arg == "--reads") {
      o.reads = n;
    } else if (arg == "--later-versions") {
      o.later_versions = n;
    } else {
      Usage("unknown flag " + arg);
    }
  }
  if (o.scratch.empty()) Usage("missing scratch directory");
  return o;
}

int Run(const BenchOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.scratch, ec);
  if (ec) Die("create " + o.scratch, ec.message());
  const std::string vault_dir = o.scratch + "/vault";
  const std::string plain_seq_path = o.scratch + "/plain_seq.bin";
  const std::string plain_rand_path = o.scratch + "/plain_rand.bin";
  RandomBytes rng(o.seed);
  // Both pools live for the whole run and nothing is deleted before the
  // end: in a VM, memory freed moments ago is cheap to reuse while fresh
  // guest memory is not, and that must not favour whichever side runs
  // right after a free. So each side grows the page cache the same way.
  std::fprintf(stderr, "engine_bench: generating data...\n");
  const DataPool seq_pool(rng, o.seq_bytes, kChunk);
  const DataPool rand_pool(rng, o.rand_writes * kBlock, kBlock);

  std::unique_ptr<Vault> vault;
  Check(Vault::Create(vault_dir, catalog::VaultOptions(), catalog::OpenOptions(), &vault),
        "create vault " + vault_dir);
  catalog::Group group;
  group.name = "bench";
  Check(vault->CreateGroup(group), "create group");
  Disk seq_disk, rand_disk;
  Check(vault->CreateDisk("bench/seq", o.seq_bytes, group.name, &seq_disk), "create disk");
  Check(vault->CreateDisk("bench/rand", o.region_bytes, group.name, &rand_disk), "create disk");

  std::printf("engine_bench: scratch %s; seq %.0f MiB, region %.0f MiB, %" PRIu64
              " random writes, %" PRIu64 " reads per figure, %" PRIu64
              " later versions, seed %" PRIu64 "\n",
              o.scratch.c_str(), MiB(o.seq_bytes), MiB(o.region_bytes), o.rand_writes, o.reads,
              o.later_versions, o.seed);
  std::fflush(stdout);
  std::vector<Figure> figures;
  std::vector<std::string> notes;
  char line[256];

  // a. Sequential 1 MiB writes.
  std::fprintf(stderr, "engine_bench: seq write...\n");
  const WriteTiming plain_seq = PlainSeqWrite(plain_seq_path, seq_pool, o.seq_bytes);
  const WriteTiming engine_seq = EngineSeqWrite(*vault, seq_disk, seq_pool, o.seq_bytes);
  const double seq_mb = static_cast<double>(o.seq_bytes) / 1e6;
  figures.push_back({"seq write 1 MiB, then 1 sync", seq_mb / engine_seq.total(),
                     seq_mb / plain_seq.total(), "MB/s", 0.8});
  std::snprintf(line, sizeof line,
                "seq write:   engine %.2f s writes + %.2f s sync;"
                " plain %.2f s pwrite + %.2f s fsync",
                engine_seq.loop_s, engine_seq.sync_s, plain_seq.loop_s, plain_seq.sync_s);
  notes.push_back(line);

  // b. Random 4 KiB writes over the region.
  std::fprintf(stderr, "engine_bench: rand write...\n");
  const std::vector<uint64_t> write_offsets =
      RandomBlockOffsets(rng, o.region_bytes, o.rand_writes);
  const WriteTiming plain_rand =
      PlainRandWrite(plain_rand_path, o.region_bytes, write_offsets, rand_pool);
  const WriteTiming engine_rand = EngineRandWrite(*vault, rand_disk, write_offsets, rand_pool);
  const double writes = static_cast<double>(o.rand_writes);
  figures.push_back({"rand write 4 KiB, then 1 sync", writes / engine_rand.total(),
                     writes / plain_rand.total(), "IOPS", 1.0});
  std::snprintf(line, sizeof line,
                "rand write:  engine %.2f s writes + %.2f s sync;"
                " plain %.2f s pwrite + %.2f s fsync",
                engine_rand.loop_s, engine_rand.sync_s, plain_rand.loop_s, plain_rand.sync_s);
  notes.push_back(line);

  int plain_fd = ::open(plain_rand_path.c_str(), O_RDONLY | O_CLOEXEC);
  CheckSys(plain_fd >= 0, "open " + plain_rand_path);
  const double reads = static_cast<double>(o.reads);

  // c. Random 4 KiB reads of latest.
  std::fprintf(stderr, "engine_bench: latest read...\n");
  {
    const View latest = vault->Latest(rand_disk);
    const std::vector<uint64_t> offsets = SampleOf(rng, write_offsets, o.reads);
    WarmAndVerify(*vault, rand_disk, latest, plain_fd, plain_rand_path, offsets, "latest read");
    const double plain_s = PlainRandRead(plain_fd, plain_rand_path, offsets);
    const double engine_s = EngineRandRead(*vault, rand_disk, latest, offsets);
    figures.push_back({"rand read 4 KiB, latest", reads / engine_s, reads / plain_s, "IOPS", 0});
  }

  // d. Random 4 KiB reads of a point with later_versions newer versions.
  std::fprintf(stderr, "engine_bench: point read (writing %" PRIu64 " later versions)...\n",
               o.later_versions);
  {
    Point point;
    auto point_start = Clock::now();
    Check(vault->CreatePoint(group.name, "crash", "bench", &point), "create point");
    const double point_s = Seconds(Clock::now() - point_start);
    const View at_point{point.branch, point.seq};
    // Fresh bytes per write; generating them is part of this untimed setup.
    std::vector<char> block(kBlock);
    auto later_start = Clock::now();
    for (uint64_t i = 0; i < o.later_versions; ++i) {
      rng.Fill(block.data(), kBlock);
      const uint64_t off = rng.Below(o.region_bytes / kBlock) * kBlock;
      Check(vault->Write(rand_disk.id, off, block.data(), kBlock), "write " + rand_disk.name);
    }
    Check(vault->Sync(), "sync");
    const double later_s = Seconds(Clock::now() - later_start);
    std::snprintf(line, sizeof line,
                  "point:       create %.3f s; %" PRIu64
                  " later 4 KiB writes + sync %.1f s (%.0f IOPS, untimed setup)",
                  point_s, o.later_versions, later_s,
                  static_cast<double>(o.later_versions) / later_s);
    notes.push_back(line);

    const std::vector<uint64_t> offsets = SampleOf(rng, write_offsets, o.reads);
    WarmAndVerify(*vault, rand_disk, at_point, plain_fd, plain_rand_path, offsets, "point read");
    const double plain_s = PlainRandRead(plain_fd, plain_rand_path, offsets);
    const double engine_s = EngineRandRead(*vault, rand_disk, at_point, offsets);
    std::string name = "rand read 4 KiB, point + " + std::to_string(o.later_versions) + " later";
    if (o.later_versions < kPointVersionsTarget) name += " (<1M!)";
    figures.push_back({name, reads / engine_s, reads / plain_s, "IOPS", 0.5});
  }
  ::close(plain_fd);

  catalog::VaultStats stats;
  Check(vault->FlushIndex(), "flush index");
  Check(vault->Stats(&stats), "vault stats");
  const uint64_t allocated = AllocatedBytes(vault_dir);

  std::printf("\n");
  PrintTable(figures);
  std::printf("\nwhere the time went (wall, seconds):\n");
  for (const std::string& n : notes) std::printf("  %s\n", n.c_str());
  std::printf("\nvault on disk: %.2f GiB allocated (journal %.2f GiB in %u segments, "
              "catalog %.1f MiB), %" PRIu64 " block versions, last seq %" PRIu64 "\n",
              GiB(allocated), GiB(stats.journal_bytes), stats.segments, MiB(stats.catalog_bytes),
              stats.block_versions, stats.last_seq);
  return 0;
}

}  // namespace
}  // namespace rpfs::bench

int main(int argc, char** argv) {
  return rpfs::bench::Run(rpfs::bench::ParseArgs(argc, argv));
}
