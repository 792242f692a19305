// Property test of the read path under concurrency: 8 threads read random
// ranges (every length class from 1 byte to 2 MiB, block-aligned and not,
// ranges ending at the disk's end) of random views while one thread
// writes, and every byte read is checked against an in-memory model.
//
//   points and #seq views  frozen: the whole range equals the model's
//                          snapshot of when the view was made. Some are
//                          made before the readers start, some by the
//                          writer while they read.
//   latest, quiet disk     nobody writes it meanwhile: equals the model.
//   latest, busy disk      each block equals the version it had when the
//                          read began or one a write gave it during the
//                          read (the writer logs every version it is about
//                          to write, by write number).
//
// Segments are 1 MiB and the index flushes every 64 versions, so ranges
// cross segments, the journal's unflushed tail and flushed files, and
// versions in memory and in LMDB. Data mixes zero blocks (a flag),
// compressible blocks (zstd) and random ones (stored as they are). Reads go
// into a buffer pre-filled with junk, at an odd address, between guard
// bytes: a read must fill exactly its n bytes and nothing else.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

constexpr uint64_t kBs = 4096;

struct Range {
  uint64_t offset;
  uint64_t length;
};

constexpr uint64_t kMaxRead = 2ull << 20;
constexpr uint64_t kBusySize = 4ull << 20;               // written while read
constexpr uint64_t kQuietSize = (2ull << 20) + 3 * kBs;  // frozen while read
// Blocks no write touches before the readers start, per disk.
constexpr Range kHoles[] = {{(3ull << 19), 5 * kBs}, {(1ull << 20) + 2 * kBs, 3 * kBs}};
constexpr int kReaders = 8;
// Each reader reads at least kMinReads ranges (the ones its seed picks),
// then goes on while writes go on, until kReadTime is up.
constexpr int kMinReads = 250;
constexpr int kMaxReads = 5000;
constexpr auto kReadTime = std::chrono::milliseconds(1500);
constexpr int kSetupWrites = 1000;
constexpr uint64_t kMaxConcurrentWrites = 3000;  // bounds the block log's memory
constexpr size_t kMaxWriterViews = 12;           // views the writer made, kept for readers
constexpr size_t kGuard = 64;
constexpr int kMaxFailures = 8;                       // readers stop after this many
constexpr auto kDeadline = std::chrono::seconds(60);  // readers still going then: a failure

// clang-format off
constexpr uint64_t kEdgeLengths[] = {
    1, 2, 511, kBs - 1, kBs, kBs + 1, 2 * kBs - 1, 2 * kBs, 2 * kBs + 1, 65535, 65536, 65537,
    (1u << 20) - 1, 1u << 20, (1u << 20) + 1, kMaxRead - kBs, kMaxRead - 1, kMaxRead};
// clang-format on
constexpr size_t kEdgeCount = sizeof(kEdgeLengths) / sizeof(kEdgeLengths[0]);
constexpr int kLengthClasses = 22;  // [2^k, 2^(k+1)) for k in 0..21; 2 MiB is class 21

using Bytes = std::shared_ptr<const std::string>;

// A view whose content no longer changes (a point or a #seq) and the
// model's bytes of every disk in it.
struct FrozenView {
  std::string spec;  // for ResolveView
  std::vector<Bytes> disks;
};

// Between 1 and max, log-uniform: every doubling of length equally likely.
uint64_t LogUniform(std::mt19937_64& rng, uint64_t max) {
  std::uniform_real_distribution<double> u(0.0, std::log(static_cast<double>(max) + 1));
  return std::clamp<uint64_t>(static_cast<uint64_t>(std::exp(u(rng))), 1, max);
}

// A range of a disk of `size` bytes, at most max_len long: an edge length
// or a log-uniform one (sometimes whole blocks), anywhere, block-aligned,
// one byte off a block boundary, at the disk's start or ending at its end.
Range PickRange(std::mt19937_64& rng, uint64_t size, uint64_t max_len) {
  uint64_t len;
  const uint64_t how = rng() % 10;
  const uint64_t edge = kEdgeLengths[rng() % kEdgeCount];
  const uint64_t any = LogUniform(rng, max_len);
  if (how < 3) {
    len = edge;
  } else if (how == 3) {
    len = std::min((any + kBs - 1) / kBs * kBs, max_len / kBs * kBs);
  } else {
    len = any;
  }
  len = std::clamp<uint64_t>(len, 1, std::min(size, max_len));
  const uint64_t room = size - len;  // the last offset that fits
  const uint64_t aligned = (rng() % (room / kBs + 1)) * kBs;
  const uint64_t anywhere = rng() % (room + 1);
  const bool up = rng() % 2;
  switch (rng() % 6) {
    case 0:
    case 1:
      return {anywhere, len};
    case 2:
      return {aligned, len};
    case 3:
      return {room, len};  // ends exactly at the disk's end
    case 4:
      return {0, len};
    default:  // one byte either side of a block boundary
      return {up ? std::min(aligned + 1, room) : (aligned == 0 ? 0 : aligned - 1), len};
  }
}

// Runs of zeros, random bytes and compressible text, so that one write
// holds blocks the encoder flags as zero, compresses and stores as is.
void FillMixed(std::mt19937_64& rng, std::string* data) {
  const uint64_t whole = rng() % 8;  // sometimes the whole write is one kind
  size_t at = 0;
  while (at < data->size()) {
    const size_t run =
        whole < 3 ? data->size() - at : std::min<size_t>(data->size() - at, 1 + rng() % 12000);
    char* p = data->data() + at;
    switch (whole < 3 ? whole : rng() % 3) {
      case 0:
        std::memset(p, 0, run);
        break;
      case 1:
        for (size_t i = 0; i < run; i += 8) {
          const uint64_t r = rng();
          std::memcpy(p + i, &r, std::min<size_t>(8, run - i));
        }
        break;
      default: {
        const char c = static_cast<char>('a' + rng() % 26);
        for (size_t i = 0; i < run; ++i) p[i] = static_cast<char>(c + (i / 97) % 3);
      }
    }
    at += run;
  }
}

// The first index where a and b differ, or n.
size_t FirstDifference(const char* a, const char* b, size_t n) {
  if (std::memcmp(a, b, n) == 0) return n;
  size_t i = 0;
  while (a[i] == b[i]) ++i;
  return i;
}

std::string Hex(char c) {
  char s[8];
  std::snprintf(s, sizeof(s), "0x%02x", static_cast<unsigned char>(c));
  return s;
}

// Every version the writer gives each block of the busy disk while the
// readers read, numbered by the write that gives it (1, 2, ...). A
// version is logged before its write starts, so a reader finds any
// version it can have seen. Thread-safe.
class BlockLog {
 public:
  explicit BlockLog(Bytes base) : base_(std::move(base)), versions_(base_->size() / kBs) {}

  void Add(uint64_t write, uint64_t block, std::string bytes) {
    std::unique_lock<std::shared_mutex> l(mu_);
    versions_[block].push_back({write, std::move(bytes)});
  }

  // Whether got[0, n), bytes [in_block, in_block + n) of block, is what
  // the block held after write `done` (done when the read began) or after
  // any write in (done, last] (last: the newest one begun by its end).
  // If not, *expected is the version after `done`.
  bool Plausible(uint64_t block, uint64_t in_block, const char* got, size_t n, uint64_t done,
                 uint64_t last, std::string* expected) const {
    std::shared_lock<std::shared_mutex> l(mu_);
    const char* at_done = base_->data() + block * kBs;
    bool any = false;
    for (const auto& [write, bytes] : versions_[block]) {
      if (write <= done) {
        at_done = bytes.data();
      } else if (write <= last && std::memcmp(bytes.data() + in_block, got, n) == 0) {
        any = true;
      }
    }
    if (any || std::memcmp(at_done + in_block, got, n) == 0) return true;
    expected->assign(at_done + in_block, n);
    return false;
  }

 private:
  mutable std::shared_mutex mu_;
  const Bytes base_;
  std::vector<std::vector<std::pair<uint64_t, std::string>>> versions_;
};

class Failures {
 public:
  void Add(std::string what) {
    std::lock_guard<std::mutex> l(mu_);
    if (list_.size() < kMaxFailures) list_.push_back(std::move(what));
    count_.fetch_add(1);
  }
  bool many() const { return count_.load() >= kMaxFailures; }
  int count() const { return count_.load(); }
  std::string Report() const {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const std::string& f : list_) out += "\n  " + f;
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> list_;
  std::atomic<int> count_{0};
};

// What the readers covered, summed over threads (atomics: no lock).
struct Coverage {
  std::atomic<uint64_t> length_class[kLengthClasses] = {};
  std::atomic<uint64_t> edge[kEdgeCount] = {};
  std::atomic<uint64_t> aligned_start{0}, unaligned_start{0}, aligned_end{0}, unaligned_end{0};
  std::atomic<uint64_t> at_disk_end{0}, whole_blocks{0};
  std::atomic<uint64_t> setup_views{0}, writer_views{0}, quiet_latest{0}, busy_latest{0};
  std::atomic<uint64_t> busy_reads_overlapping_writes{0};
  std::atomic<uint64_t> reads{0};

  void Note(Range r, uint64_t disk_size) {
    length_class[std::bit_width(r.length) - 1].fetch_add(1);
    for (size_t i = 0; i < kEdgeCount; ++i) {
      if (r.length == kEdgeLengths[i]) edge[i].fetch_add(1);
    }
    (r.offset % kBs == 0 ? aligned_start : unaligned_start).fetch_add(1);
    ((r.offset + r.length) % kBs == 0 ? aligned_end : unaligned_end).fetch_add(1);
    if (r.offset + r.length == disk_size) at_disk_end.fetch_add(1);
    if (r.offset % kBs == 0 && r.length % kBs == 0) whole_blocks.fetch_add(1);
    reads.fetch_add(1);
  }
};

// The state the readers and the writer share.
struct Shared {
  Vault* vault = nullptr;
  std::vector<Disk> disks;  // [0] busy, [1] quiet
  std::vector<std::shared_ptr<const FrozenView>> setup_views;
  Bytes quiet_bytes;  // the quiet disk, all along

  std::mutex views_mu;
  std::deque<std::shared_ptr<const FrozenView>> writer_views;  // newest last

  std::unique_ptr<BlockLog> log;
  std::atomic<uint64_t> writes_done{0};   // busy-disk writes that returned
  std::atomic<uint64_t> write_ns_max{0};  // the writer's slowest Write (a starved writer shows)
  std::atomic<int> readers_left{kReaders};
  std::atomic<bool> stop{false};  // deadline passed
  Failures failures;
  Coverage coverage;
};

std::string Describe(uint64_t seed, const std::string& view, const Disk& d, Range r) {
  return "seed " + std::to_string(seed) + ", view " + view + " of " + d.name + ", offset " +
         std::to_string(r.offset) + ", length " + std::to_string(r.length);
}

// Reads r of view into a buffer filled with junk, at an odd address,
// between guards. "" if the read succeeded and touched exactly its bytes,
// else what went wrong; *out points at the bytes read.
std::string GuardedRead(Vault& v, const Disk& d, View view, Range r, std::mt19937_64& rng,
                        std::string* arena, const char** out) {
  const size_t skew = rng() % 8;
  const char junk = static_cast<char>(1 + rng() % 255);
  arena->assign(kGuard + skew + r.length + kGuard, junk);
  char* dst = arena->data() + kGuard + skew;
  Status s = v.Read(d.id, view, r.offset, r.length, dst);
  if (!s.ok()) return "Read failed: " + s.ToString();
  for (size_t i = 0; i < kGuard + skew; ++i) {
    if ((*arena)[i] != junk) {
      return "Read wrote " + std::to_string(kGuard + skew - i) + " bytes before its buffer";
    }
  }
  for (size_t i = 0; i < kGuard; ++i) {
    if (dst[r.length + i] != junk) {
      return "Read wrote past its buffer's end (byte " + std::to_string(i) + " after it)";
    }
  }
  *out = dst;
  return "";
}

void Reader(Shared& sh, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string arena, expected;
  Vault& v = *sh.vault;
  const auto until = std::chrono::steady_clock::now() + kReadTime;
  for (int i = 0; i < kMaxReads && (i < kMinReads || std::chrono::steady_clock::now() < until) &&
                  !sh.failures.many() && !sh.stop.load();
       ++i) {
    // The same number of draws every round, so the ranges a seed reads do
    // not depend on the timing of the writer.
    const uint64_t pause_us = rng() % 300;
    const uint64_t kind = rng() % 10;
    const uint64_t pick = rng();
    const size_t di = rng() % 2;
    // A pause between reads, so that writes happen between them: readers
    // hold the block map's lock (shared) while they look blocks up, a
    // write takes it (exclusive) per block, and std::shared_mutex lets
    // readers starve a writer. Without it, 8 readers halve the writes
    // (and when reads held the lock across their I/O, a point waited
    // until the readers stopped).
    if (i > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    const char* got = nullptr;
    if (kind >= 7) {  // latest of the busy disk, while it is written
      const Disk& d = sh.disks[0];
      const Range r = PickRange(rng, d.size, kMaxRead);
      sh.coverage.Note(r, d.size);
      sh.coverage.busy_latest.fetch_add(1);
      const uint64_t done = sh.writes_done.load();
      std::string err = GuardedRead(v, d, v.Latest(d), r, rng, &arena, &got);
      // Write w begins only once write w - 1 returned: a write this read
      // can have seen began before it ended, so is at most writes_done + 1
      // read now.
      const uint64_t last = sh.writes_done.load() + 1;
      if (last > done + 1) sh.coverage.busy_reads_overlapping_writes.fetch_add(1);
      const std::string what = Describe(seed, "latest", d, r) + " (writes " + std::to_string(done) +
                               ".." + std::to_string(last) + ")";
      if (!err.empty()) {
        sh.failures.Add(what + ": " + err);
        continue;
      }
      for (uint64_t pos = r.offset; pos < r.offset + r.length;) {
        const uint64_t b = pos / kBs, in_block = pos % kBs;
        const uint64_t take = std::min(kBs - in_block, r.offset + r.length - pos);
        const char* at = got + (pos - r.offset);
        if (!sh.log->Plausible(b, in_block, at, take, done, last, &expected)) {
          const size_t x = FirstDifference(at, expected.data(), take);
          sh.failures.Add(what + ": block " + std::to_string(b) +
                          " is no version it had during the read; at disk offset " +
                          std::to_string(pos + x) + " got " + Hex(at[x]) + ", version at start " +
                          Hex(expected[x]));
          break;
        }
        pos += take;
      }
      continue;
    }
    // A frozen view: the quiet disk's latest, a view made before the
    // readers started, or one the writer made since (the newest, often).
    std::shared_ptr<const FrozenView> fv;
    std::string spec;
    size_t disk_index = di;
    if (kind >= 5) {
      disk_index = 1;
      spec = "latest";
      sh.coverage.quiet_latest.fetch_add(1);
    } else {
      {
        std::lock_guard<std::mutex> l(sh.views_mu);
        const size_t n = sh.setup_views.size() + sh.writer_views.size();
        size_t k = kind == 4 ? n - 1 : pick % n;
        fv = k < sh.setup_views.size() ? sh.setup_views[k]
                                       : sh.writer_views[k - sh.setup_views.size()];
        (k < sh.setup_views.size() ? sh.coverage.setup_views : sh.coverage.writer_views)
            .fetch_add(1);
      }
      spec = fv->spec;
    }
    const Disk& d = sh.disks[disk_index];
    const std::string& want = fv ? *fv->disks[disk_index] : *sh.quiet_bytes;
    const Range r = PickRange(rng, d.size, kMaxRead);
    sh.coverage.Note(r, d.size);
    const std::string what = Describe(seed, spec, d, r);
    View view;
    std::string description;
    Status s = v.ResolveView(d, spec, &view, &description);
    if (!s.ok()) {
      sh.failures.Add(what + ": ResolveView failed: " + s.ToString());
      continue;
    }
    std::string err = GuardedRead(v, d, view, r, rng, &arena, &got);
    if (!err.empty()) {
      sh.failures.Add(what + ": " + err);
      continue;
    }
    const size_t x = FirstDifference(got, want.data() + r.offset, r.length);
    if (x != r.length) {
      sh.failures.Add(what + " (" + description + "): first difference at disk offset " +
                      std::to_string(r.offset + x) + " (byte " + std::to_string(x) +
                      " of the range): got " + Hex(got[x]) + ", model " + Hex(want[r.offset + x]));
    }
  }
  sh.readers_left.fetch_sub(1);
}

// Writes the busy disk until the readers are done: random ranges up to
// 256 KiB, a #seq view every 6 writes and a point every 24, handed to the
// readers with the model's bytes.
void Writer(Shared& sh, uint64_t seed, std::string* model) {
  std::mt19937_64 rng(seed);
  Vault& v = *sh.vault;
  const Disk& d = sh.disks[0];
  std::string data;
  uint64_t w = 0;
  auto publish = [&](std::string spec) {
    auto fv = std::make_shared<FrozenView>();
    fv->spec = std::move(spec);
    fv->disks = {std::make_shared<const std::string>(*model), sh.quiet_bytes};
    std::lock_guard<std::mutex> l(sh.views_mu);
    sh.writer_views.push_back(std::move(fv));
    if (sh.writer_views.size() > kMaxWriterViews) sh.writer_views.pop_front();
  };
  while (sh.readers_left.load() > 0 && w < kMaxConcurrentWrites && !sh.failures.many() &&
         !sh.stop.load()) {
    const Range r = PickRange(rng, d.size, 256 << 10);
    data.resize(r.length);
    FillMixed(rng, &data);
    model->replace(r.offset, r.length, data);
    ++w;
    for (uint64_t b = r.offset / kBs; b <= (r.offset + r.length - 1) / kBs; ++b) {
      sh.log->Add(w, b, model->substr(b * kBs, kBs));
    }
    const auto t0 = std::chrono::steady_clock::now();
    Status s = v.Write(d.id, r.offset, data.data(), data.size());
    const uint64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    sh.write_ns_max.store(std::max(sh.write_ns_max.load(), ns));
    if (!s.ok()) {
      sh.failures.Add("writer (seed " + std::to_string(seed) + "): write " + std::to_string(w) +
                      " at " + std::to_string(r.offset) + " failed: " + s.ToString());
      break;
    }
    sh.writes_done.store(w);
    if (w % 6 == 0) publish("#" + std::to_string(v.last_seq()));
    if (w % 24 == 0) {
      Point p;
      s = v.CreatePoint("web", w % 48 ? "crash" : "app", "", &p);
      if (!s.ok()) {
        sh.failures.Add("writer: CreatePoint failed: " + s.ToString());
        break;
      }
      publish(std::to_string(p.id));
    }
  }
}

// Reads every view whole, on one thread, against the model.
void CheckWhole(Vault& v, const std::vector<Disk>& disks, const FrozenView& fv) {
  for (size_t i = 0; i < disks.size(); ++i) {
    View view;
    std::string description;
    ASSERT_TRUE(v.ResolveView(disks[i], fv.spec, &view, &description).ok()) << fv.spec;
    std::string got(disks[i].size, '\0');
    ASSERT_TRUE(v.Read(disks[i].id, view, 0, got.size(), got.data()).ok());
    const size_t x = FirstDifference(got.data(), fv.disks[i]->data(), got.size());
    ASSERT_EQ(x, got.size()) << "view " << fv.spec << " of " << disks[i].name
                             << ": first difference at byte " << x;
  }
}

void RunConcurrentReads(uint64_t seed, bool encrypt) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (readers " + std::to_string(seed * 100) + ".." +
               std::to_string(seed * 100 + kReaders - 1) + ", writer " +
               std::to_string(seed * 100 + 99) + ")");
  TempDir dir;
  OpenOptions oo;
  oo.index_flush_entries = 64;  // versions move to LMDB while readers look them up
  VaultOptions vo;
  vo.max_segment_bytes = 1 << 20;  // a 2 MiB read crosses segments
  if (encrypt) {
    vo.encrypt = true;
    vo.passphrase = "correct horse";
    vo.passphrase_hash = "scrypt$test";
    oo.passphrase = [](std::string* out) {
      *out = "correct horse";
      return Status::OK();
    };
  }
  std::unique_ptr<Vault> v;
  ASSERT_TRUE(Vault::Create(dir / "vault", vo, oo, &v).ok());
  ASSERT_EQ(encrypt, v->encrypted());
  Group g;
  g.name = "web";
  ASSERT_TRUE(v->CreateGroup(g).ok());
  Shared sh;
  sh.vault = v.get();
  sh.disks.resize(2);
  ASSERT_TRUE(v->CreateDisk("vm/busy", kBusySize, "web", &sh.disks[0]).ok());
  ASSERT_TRUE(v->CreateDisk("vm/quiet", kQuietSize, "web", &sh.disks[1]).ok());

  // A random history on both disks, with points and #seq views along it.
  std::mt19937_64 rng(seed);
  std::vector<std::string> model = {std::string(kBusySize, '\0'), std::string(kQuietSize, '\0')};
  std::vector<bool> written_blocks(kBusySize / kBs + kQuietSize / kBs);
  std::vector<Bytes> snap(2);
  std::vector<bool> changed = {true, true};
  auto freeze = [&](std::string spec) {
    auto fv = std::make_shared<FrozenView>();
    fv->spec = std::move(spec);
    for (size_t i = 0; i < 2; ++i) {
      if (changed[i]) snap[i] = std::make_shared<const std::string>(model[i]);
      changed[i] = false;
      fv->disks.push_back(snap[i]);
    }
    sh.setup_views.push_back(std::move(fv));
  };
  std::string data;
  for (int i = 0; i <= kSetupWrites; ++i) {
    if (i % 200 == 0) {  // the first one sees nothing written
      Point p;
      ASSERT_TRUE(v->CreatePoint("web", i % 400 ? "crash" : "app", "", &p).ok());
      freeze(std::to_string(p.id));
    } else if (i % 200 == 130) {
      freeze("#" + std::to_string(v->last_seq()));
    }
    if (i == kSetupWrites) break;
    const size_t di = rng() % 2;
    Range r = PickRange(rng, sh.disks[di].size, 512 << 10);
    const uint64_t hole = kHoles[di].offset, hole_end = hole + kHoles[di].length;
    const uint64_t end = r.offset + r.length;
    if (r.offset < hole && end > hole) {
      r.length = hole - r.offset;  // stops short of the hole
    } else if (r.offset >= hole && r.offset < hole_end) {
      if (end <= hole_end) continue;
      r = {hole_end, end - hole_end};  // starts after it
    }
    data.resize(r.length);
    FillMixed(rng, &data);
    ASSERT_TRUE(v->Write(sh.disks[di].id, r.offset, data.data(), data.size()).ok());
    model[di].replace(r.offset, r.length, data);
    changed[di] = true;
    for (uint64_t b = r.offset / kBs; b <= (r.offset + r.length - 1) / kBs; ++b) {
      written_blocks[(di ? kBusySize / kBs : 0) + b] = true;
    }
  }
  VaultStats stats;
  ASSERT_TRUE(v->Stats(&stats).ok());
  ASSERT_GE(stats.segments, 10u) << "reads should cross segments";
  const size_t holes = std::count(written_blocks.begin(), written_blocks.end(), false);
  ASSERT_GE(holes, (kHoles[0].length + kHoles[1].length) / kBs) << "blocks never written";
  sh.quiet_bytes = std::make_shared<const std::string>(model[1]);
  sh.log = std::make_unique<BlockLog>(std::make_shared<const std::string>(model[0]));

  // The writer starts first, so the readers start with writes going on.
  std::string busy_model = model[0];
  std::vector<std::thread> threads;
  threads.emplace_back(Writer, std::ref(sh), seed * 100 + 99, &busy_model);
  const auto start = std::chrono::steady_clock::now();
  while (sh.writes_done.load() == 0 && !sh.failures.many() &&
         std::chrono::steady_clock::now() - start < kDeadline) {
    std::this_thread::yield();
  }
  for (int t = 0; t < kReaders; ++t) threads.emplace_back(Reader, std::ref(sh), seed * 100 + t);
  while (sh.readers_left.load() > 0 && std::chrono::steady_clock::now() - start < kDeadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool late = sh.readers_left.load() > 0;
  sh.stop = true;
  for (auto& t : threads) t.join();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  ASSERT_EQ(0, sh.failures.count())
      << sh.failures.count() << " failures (first ones):" << sh.failures.Report();
  ASSERT_FALSE(late) << "readers not done after " << kDeadline.count() << " s";

  const Coverage& c = sh.coverage;
  const uint64_t writes = sh.writes_done.load();
  std::printf(
      "%llu reads on %d threads beside %llu writes in %lld ms (slowest write %.1f ms); "
      "%llu busy-disk reads overlapped writes\n",
      static_cast<unsigned long long>(c.reads.load()), kReaders,
      static_cast<unsigned long long>(writes), static_cast<long long>(elapsed.count()),
      sh.write_ns_max.load() / 1e6,
      static_cast<unsigned long long>(c.busy_reads_overlapping_writes.load()));
  EXPECT_GT(writes, 0u);
  for (int k = 0; k < kLengthClasses; ++k) {
    EXPECT_GT(c.length_class[k].load(), 0u)
        << "no read of length in [2^" << k << ", 2^" << k + 1 << ")";
  }
  for (size_t i = 0; i < kEdgeCount; ++i) {
    EXPECT_GT(c.edge[i].load(), 0u) << "no read of length " << kEdgeLengths[i];
  }
  EXPECT_GT(c.aligned_start.load(), 0u);
  EXPECT_GT(c.unaligned_start.load(), 0u);
  EXPECT_GT(c.aligned_end.load(), 0u);
  EXPECT_GT(c.unaligned_end.load(), 0u);
  EXPECT_GT(c.at_disk_end.load(), 0u);
  EXPECT_GT(c.whole_blocks.load(), 0u);
  EXPECT_GT(c.setup_views.load(), 0u);
  EXPECT_GT(c.writer_views.load(), 0u);
  EXPECT_GT(c.quiet_latest.load(), 0u);
  EXPECT_GT(c.busy_latest.load(), 0u);

  // Afterwards, on one thread: every view whole, and latest.
  for (const auto& fv : sh.setup_views) CheckWhole(*v, sh.disks, *fv);
  for (const auto& fv : sh.writer_views) CheckWhole(*v, sh.disks, *fv);
  FrozenView latest{"latest", {std::make_shared<const std::string>(busy_model), sh.quiet_bytes}};
  CheckWhole(*v, sh.disks, latest);
}

TEST(VaultConcurrentRead, EightReadersBesideAWriterMatchModel) { RunConcurrentReads(1, false); }

// The same through the sealer: every payload is AES-GCM sealed.
TEST(VaultConcurrentRead, EncryptedVaultEightReadersBesideAWriterMatchModel) {
  RunConcurrentReads(2, true);
}

}  // namespace
}  // namespace rpfs::catalog
