// Crashes around the FUSE daemon (DESIGN.md §4 Durability, §5, §6):
// kill -9 of the daemon in the middle of fsynced writes (our own writer,
// whose every write is recognizable, and fio), a client killed mid-write,
// and SIGTERM. Each crash is followed by a real remount through
// `rpfs mount`, a check of the bytes, the points, and `rpfs verify`.
//
// The kill moments are random; the seed is printed and can be replayed
// with RPFS_CRASH_SEED=N.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "tests/integration/mount_fixture.h"

extern char** environ;

namespace rpfs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kBlock = 4096;
constexpr uint64_t kMagic = 0x4853524353465052ull;  // "RPFSCRSH"
constexpr uint64_t kGarbage = ~uint64_t{0};         // a block that is no write we made

// ---------------------------------------------------------------------
// Recognizable blocks: every write has a generation number unique across
// the whole test; its 4 KiB are magic, block index, generation, a
// pseudo-random fill derived from both, and a checksum of the rest.

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Fnv64(const char* p, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001B3ull;
  return h;
}

void FillBlock(uint64_t block, uint64_t gen, char* out) {
  uint64_t words[kBlock / 8];
  words[0] = kMagic;
  words[1] = block;
  words[2] = gen;
  uint64_t s = gen * 0x2545F4914F6CDD1Dull ^ block;
  for (size_t i = 3; i < kBlock / 8 - 1; ++i) words[i] = SplitMix(&s);
  std::memcpy(out, words, kBlock - 8);
  uint64_t sum = Fnv64(out, kBlock - 8);
  std::memcpy(out + kBlock - 8, &sum, 8);
}

// The generation a block holds: 0 for all zeros (never written), kGarbage
// for anything that is not exactly one of our writes to this block.
uint64_t DecodeBlock(uint64_t block, const char* p, std::string* why = nullptr) {
  bool zero = true;
  for (size_t i = 0; i < kBlock && zero; ++i) zero = p[i] == 0;
  if (zero) return 0;
  uint64_t magic, idx, gen;
  std::memcpy(&magic, p, 8);
  std::memcpy(&idx, p + 8, 8);
  std::memcpy(&gen, p + 16, 8);
  char expect[kBlock];
  FillBlock(block, gen, expect);
  if (std::memcmp(expect, p, kBlock) == 0) return gen;
  if (why) {
    std::ostringstream o;
    if (magic != kMagic) {
      o << "no magic (first bytes " << std::hex << magic << std::dec << ")";
    } else if (idx != block) {
      o << "block written for index " << idx << " (gen " << gen << ")";
    } else {
      uint64_t sum;
      std::memcpy(&sum, p + kBlock - 8, 8);
      size_t first_bad = 0;
      while (first_bad < kBlock && expect[first_bad] == p[first_bad]) ++first_bad;
      o << "header says gen " << gen << " but byte " << first_bad << " differs"
        << (sum == Fnv64(p, kBlock - 8) ? "" : " (checksum wrong: torn/mixed block)");
    }
    *why = o.str();
  }
  return kGarbage;
}

// Reads `n` blocks starting at block `first` of `path`; one decoded
// generation per block.
std::vector<uint64_t> ReadGenerations(const std::string& path, uint64_t first, size_t n,
                                      std::string* error, std::vector<std::string>* why = nullptr) {
  std::vector<uint64_t> gens(n, kGarbage);
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    *error = "open " + path + ": " + std::strerror(errno);
    return gens;
  }
  std::vector<char> buf(n * kBlock);
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t r = ::pread(fd, buf.data() + done, buf.size() - done,
                        static_cast<off_t>(first * kBlock + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      *error = "read " + path + " at " + std::to_string(first * kBlock + done) + ": " +
               (r < 0 ? std::strerror(errno) : "end of file");
      ::close(fd);
      return gens;
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  if (why) why->assign(n, "");
  for (size_t i = 0; i < n; ++i) {
    gens[i] = DecodeBlock(first + i, buf.data() + i * kBlock, why ? &(*why)[i] : nullptr);
  }
  return gens;
}

// ---------------------------------------------------------------------
// A writer thread: pwrite of recognizable 4 KiB blocks at random places
// of a region, fsync every 64 writes, and an exact record of what was
// issued, what completed, and what the last successful fsync covered.

struct Write {
  uint32_t block;  // relative to the region
  uint64_t gen;
};

struct WriterProgress {
  size_t issued = 0;     // writes handed to pwrite (the last may be in flight)
  size_t completed = 0;  // writes whose pwrite returned the full length
  size_t fsynced = 0;    // writes completed before the last successful fsync was called
  size_t fsyncs = 0;
  bool stopped = false;
  std::string error;  // why it stopped (an error is expected after a crash)
};

class BlockWriter {
 public:
  BlockWriter(std::string path, uint64_t first_block, uint32_t nblocks, std::atomic<uint64_t>* gens,
              uint64_t seed)
      : path_(std::move(path)), first_(first_block), n_(nblocks), gens_(gens), rng_(seed) {}
  ~BlockWriter() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  WriterProgress Progress() {
    std::lock_guard<std::mutex> l(mu_);
    return p_;
  }
  std::vector<Write> Log() {
    std::lock_guard<std::mutex> l(mu_);
    return log_;
  }
  // Waits until at least `n` writes completed; false if the writer
  // stopped or `timeout` passed first.
  bool WaitCompleted(size_t n, milliseconds timeout = milliseconds(30000)) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      WriterProgress p = Progress();
      if (p.completed >= n) return true;
      if (p.stopped) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  }
  // Waits until the writer stopped by itself (its next write failed).
  bool WaitStopped(milliseconds timeout) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      if (Progress().stopped) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  }

 private:
  void Run() {
    int fd = ::open(path_.c_str(), O_RDWR);
    if (fd < 0) {
      Finish(std::string("open: ") + std::strerror(errno));
      return;
    }
    std::uniform_int_distribution<uint32_t> pick(0, n_ - 1);
    char buf[kBlock];
    std::string error = "stopped by the test";
    while (!stop_) {
      uint32_t b = pick(rng_);
      uint64_t gen = ++*gens_;
      FillBlock(first_ + b, gen, buf);
      {
        std::lock_guard<std::mutex> l(mu_);
        log_.push_back({b, gen});
        p_.issued = log_.size();
      }
      ssize_t w = ::pwrite(fd, buf, kBlock, static_cast<off_t>((first_ + b) * kBlock));
      if (w != static_cast<ssize_t>(kBlock)) {
        error = "pwrite: " + std::string(w < 0 ? std::strerror(errno) : "short write");
        break;
      }
      size_t covered;
      {
        std::lock_guard<std::mutex> l(mu_);
        covered = ++p_.completed;
      }
      if (covered % 64 == 0) {
        if (::fsync(fd) != 0) {
          error = std::string("fsync: ") + std::strerror(errno);
          break;
        }
        std::lock_guard<std::mutex> l(mu_);
        p_.fsynced = covered;
        ++p_.fsyncs;
      }
    }
    ::close(fd);
    Finish(error);
  }
  void Finish(const std::string& error) {
    std::lock_guard<std::mutex> l(mu_);
    p_.stopped = true;
    p_.error = error;
  }

  std::string path_;
  uint64_t first_;
  uint32_t n_;
  std::atomic<uint64_t>* gens_;
  std::mt19937_64 rng_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  WriterProgress p_;
  std::vector<Write> log_;
};

// Checks that `observed` (a generation per block of the region) is
// exactly `base` with the first K writes of `log` applied, for some K in
// [lo, hi]: every write before `lo` is there (with its own content or a
// later write's), nothing is garbage, and what came after is a prefix of
// the write order (DESIGN.md §4). Returns "" or a description.
std::string CheckPrefix(const std::vector<uint64_t>& base, const std::vector<Write>& log, size_t lo,
                        size_t hi, const std::vector<uint64_t>& observed,
                        const std::vector<std::string>& why, size_t* k_out = nullptr) {
  std::unordered_map<uint64_t, size_t> index;  // gen -> position in log
  for (size_t i = 0; i < log.size(); ++i) index[log[i].gen] = i;
  std::ostringstream err;
  int problems = 0;
  auto note = [&](const std::string& s) {
    if (++problems <= 12) err << "  " << s << "\n";
  };
  size_t k = lo;
  for (size_t b = 0; b < observed.size(); ++b) {
    uint64_t g = observed[b];
    if (g == base[b]) continue;
    auto it = index.find(g);
    if (g == kGarbage) {
      note("block " + std::to_string(b) + ": garbage, not any write made to it (" +
           (b < why.size() ? why[b] : "") + ")");
    } else if (it == index.end() || log[it->second].block != b) {
      note("block " + std::to_string(b) + ": holds gen " + std::to_string(g) +
           (g == 0 ? " (zeros)" : "") + ", which was never written to this block in this round");
    } else {
      k = std::max(k, it->second + 1);
    }
  }
  if (k > hi) note("the image holds write #" + std::to_string(k - 1) + " which was never issued");
  std::vector<uint64_t> expect = base;
  std::vector<size_t> expect_pos(base.size(), SIZE_MAX);
  for (size_t i = 0; i < std::min(k, log.size()); ++i) {
    expect[log[i].block] = log[i].gen;
    expect_pos[log[i].block] = i;
  }
  for (size_t b = 0; b < observed.size(); ++b) {
    if (observed[b] == expect[b] || observed[b] == kGarbage) continue;
    auto it = index.find(observed[b]);
    if (it != index.end() && log[it->second].block != b) continue;  // reported above
    std::string want = expect_pos[b] == SIZE_MAX
                           ? "its content before this round (gen " + std::to_string(expect[b]) + ")"
                           : "write #" + std::to_string(expect_pos[b]) + " (gen " +
                                 std::to_string(expect[b]) + ")";
    std::string got =
        it != index.end()
            ? "write #" + std::to_string(it->second) + " (gen " + std::to_string(observed[b]) + ")"
            : "its content before this round (gen " + std::to_string(observed[b]) + ")";
    bool lost_durable = expect_pos[b] != SIZE_MAX && expect_pos[b] < lo;
    note("block " + std::to_string(b) + ": expected " + want + ", found " + got +
         (lost_durable ? " -- a write that must be there is missing"
                       : " -- not a prefix of the write order"));
  }
  if (k_out) *k_out = k;
  if (problems == 0) return "";
  std::ostringstream o;
  o << problems << " bad blocks (must-have writes: first " << lo << ", issued " << log.size()
    << ", image reaches write #" << k << "):\n"
    << err.str();
  return o.str();
}

// The checker itself must be able to fail: a lost fsynced write,
// garbage, a write on the wrong block, and a hole in the write order.
TEST(CrashCheckTest, CheckPrefixCatchesEveryKindOfDamage) {
  std::vector<uint64_t> base = {0, 7, 0, 0};  // block 1 held gen 7 before the round
  std::vector<Write> log = {{0, 10}, {1, 11}, {2, 12}, {0, 13}, {3, 14}};
  std::vector<std::string> why(4);
  // First 3 fsynced, 5 issued.
  EXPECT_EQ("", CheckPrefix(base, log, 3, 5, {10, 11, 12, 0}, why));   // exactly the fsynced part
  EXPECT_EQ("", CheckPrefix(base, log, 3, 5, {13, 11, 12, 14}, why));  // everything
  EXPECT_EQ("", CheckPrefix(base, log, 3, 5, {13, 11, 12, 0}, why));   // first 4
  // Lost fsynced write (block 2 back to zeros).
  EXPECT_NE(std::string::npos,
            CheckPrefix(base, log, 3, 5, {10, 11, 0, 0}, why).find("must be there"));
  // Lost fsynced write (block 1 shows the older content).
  EXPECT_NE("", CheckPrefix(base, log, 3, 5, {10, 7, 12, 0}, why));
  // Garbage where a write was.
  EXPECT_NE(std::string::npos,
            CheckPrefix(base, log, 3, 5, {10, 11, 12, kGarbage}, why).find("garbage"));
  // A gen written to another block.
  EXPECT_NE(std::string::npos,
            CheckPrefix(base, log, 3, 5, {10, 11, 12, 13}, why).find("never written"));
  // Write #4 kept but #3 (block 0) lost: not a prefix.
  EXPECT_NE(std::string::npos,
            CheckPrefix(base, log, 3, 5, {10, 11, 12, 14}, why).find("not a prefix"));
  // Decoding: exact blocks decode, any flipped byte or a moved block does not.
  char buf[kBlock];
  FillBlock(42, 99, buf);
  EXPECT_EQ(99u, DecodeBlock(42, buf));
  EXPECT_EQ(kGarbage, DecodeBlock(43, buf));
  buf[1000] ^= 1;
  EXPECT_EQ(kGarbage, DecodeBlock(42, buf));
  std::memset(buf, 0, kBlock);
  EXPECT_EQ(0u, DecodeBlock(42, buf));
}

// ---------------------------------------------------------------------
// Processes.

pid_t Spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  return SpawnProgram(args, out, err);
}

// Exit code, or 128 + signal.
int Reap(pid_t pid) {
  int status;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A process that exists and is not a zombie.
bool Alive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

std::string Comm(pid_t pid) {
  std::string c = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

// True if some thread of `pid` is inside syscall `nr` right now.
bool InSyscall(pid_t pid, long nr) {
  std::error_code ec;
  for (auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string s = ReadFile(t.path().string() + "/syscall");
    if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0])) &&
        std::strtol(s.c_str(), nullptr, 10) == nr) {
      return true;
    }
  }
  return false;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code ec2;
    if (e.is_regular_file(ec2)) n += e.file_size(ec2);
  }
  return n;
}

std::string ReadLink(const std::string& path) {
  char buf[256] = {};
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Writes (and fsyncs) `data` at `off` of `path`; "" or the error.
std::string PwriteFsync(const std::string& path, uint64_t off, const std::string& data,
                        bool fsync) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return "open " + path + ": " + std::strerror(errno);
  ssize_t w = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
  std::string err;
  if (w != static_cast<ssize_t>(data.size())) {
    err = "pwrite: " + std::string(w < 0 ? std::strerror(errno) : "short");
  } else if (fsync && ::fsync(fd) != 0) {
    err = std::string("fsync: ") + std::strerror(errno);
  }
  if (::close(fd) != 0 && err.empty()) err = std::string("close: ") + std::strerror(errno);
  return err;
}

std::string Pread(const std::string& path, uint64_t off, size_t n, std::string* err) {
  std::string out(n, '\0');
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    *err = "open " + path + ": " + std::strerror(errno);
    return "";
  }
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(off + done));
    if (r <= 0) {
      *err = "pread " + path + ": " + (r < 0 ? std::strerror(errno) : "eof");
      break;
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  return out;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// ---------------------------------------------------------------------

class CrashTest : public MountedVault {
 protected:
  void SetUp() override {
    MountedVault::SetUp();
    const char* env = std::getenv("RPFS_CRASH_SEED");
    seed_ = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    rng_.seed(seed_);
    std::cout << "[ crash seed ] RPFS_CRASH_SEED=" << seed_ << std::endl;
  }

  void TearDown() override {
    // A test that failed after a crash may leave a dead mount behind.
    if (mounted_ && !DaemonAlive()) mounted_ = false;
    if (IsMounted(mnt_) && !mounted_) RunProgram({"fusermount3", "-u", "-z", mnt_});
    MountedVault::TearDown();
  }

  pid_t DaemonPid() {
    return static_cast<pid_t>(std::strtol(ReadFile(vault_ + "/LOCK").c_str(), nullptr, 10));
  }
  bool DaemonAlive() {
    pid_t pid = DaemonPid();
    return pid > 0 && Alive(pid);
  }
  bool LockFree() {
    int fd = ::open((vault_ + "/LOCK").c_str(), O_RDONLY);
    bool free = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0) ::close(fd);
    return free;
  }
  bool WaitLockFree(milliseconds timeout) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      if (LockFree()) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  // kill -9 of the mount daemon; the mount is dead afterwards and is
  // detached the way an operator would (fusermount3 -u -z).
  void KillDaemon9(pid_t pid) {
    ASSERT_GT(pid, 1);
    ASSERT_EQ("rpfs", Comm(pid)) << "LOCK names pid " << pid << ", which is not the daemon";
    ASSERT_EQ(0, ::kill(pid, SIGKILL));
    ASSERT_TRUE(WaitLockFree(milliseconds(10000))) << "the killed daemon still holds the vault";
    mounted_ = false;
  }
  void DetachDeadMount() {
    auto r = RunProgram({"fusermount3", "-u", "-z", mnt_});
    EXPECT_EQ(0, r.exit_code) << r.err;
    EXPECT_FALSE(IsMounted(mnt_));
  }
  // Unmounts, runs `rpfs verify` and `verify --deep` on the closed vault.
  void UnmountAndVerify(const std::string& when) {
    Unmount();
    for (bool deep : {false, true}) {
      std::vector<std::string> args = {"--vault", vault_, "verify"};
      if (deep) args.push_back("--deep");
      auto r = RunRpfs(args);
      EXPECT_EQ(0, r.exit_code) << when << ": rpfs verify" << (deep ? " --deep" : "") << " exited "
                                << r.exit_code << "\n"
                                << r.out << r.err;
      EXPECT_NE(std::string::npos, r.out.find("clean")) << when << ": " << r.out;
    }
  }

  std::string Sha256(const std::string& path) {
    auto r = RunProgram({"sha256sum", path});
    EXPECT_EQ(0, r.exit_code) << "sha256sum " << path << ": " << r.err;
    return r.out.substr(0, 64);
  }

  uint64_t Uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

// Acceptance 1, the precise check: kill -9 of the daemon at random
// moments during a writer that fsyncs every 64 writes. After each
// remount the region must hold every write covered by a completed fsync
// (or a later write to the same block), never garbage, and the whole
// image must be a prefix of the write order. The crash point taken
// before the writes shows exactly the image of its moment, the one taken
// in the middle of the writes is a prefix covering every write completed
// before it was asked for, and latest-crash names it.
TEST_F(CrashTest, Kill9DuringFsyncedWritesKeepsEveryFsyncedWrite) {
  constexpr uint64_t kFirst = 0;
  constexpr uint32_t kBlocks = 4096;  // 16 MiB region of the 64 MiB disk
  constexpr int kRounds = 5;
  std::atomic<uint64_t> gens{0};
  std::vector<uint64_t> base(kBlocks, 0);  // a fresh disk reads as zeros
  auto start = Clock::now();
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(mounted_);
    std::string before_id = TakePoint("g");

    BlockWriter writer(Flat(), kFirst, kBlocks, &gens, rng_());
    writer.Start();
    ASSERT_TRUE(writer.WaitCompleted(Uniform(128, 1500)))  // >= 1 fsync done
        << "writer did not get going: " << writer.Progress().error;
    // A crash point in the middle of the writes.
    size_t c0 = writer.Progress().completed;
    std::string mid_id = TakePoint("g");
    size_t n1 = writer.Progress().issued;
    // The kill: a random number of writes later, plus a random instant.
    ASSERT_TRUE(writer.WaitCompleted(writer.Progress().completed + Uniform(0, 2000)))
        << writer.Progress().error;
    std::this_thread::sleep_for(std::chrono::microseconds(Uniform(0, 3000)));
    pid_t pid = DaemonPid();
    ASSERT_NO_FATAL_FAILURE(KillDaemon9(pid));
    // A writer preempted between two writes meets the dead mount only at
    // its next one: give it that chance before stopping it.
    writer.WaitStopped(milliseconds(10000));
    writer.Stop();
    WriterProgress p = writer.Progress();
    std::vector<Write> log = writer.Log();
    std::cout << "round " << round << ": killed daemon " << pid << " after " << p.completed
              << " completed writes (" << p.fsyncs << " fsyncs, last covered " << p.fsynced
              << ", issued " << p.issued << "); writer: " << p.error << std::endl;
    EXPECT_NE("stopped by the test", p.error) << "the writer did not notice the daemon's death";
    EXPECT_GE(p.fsyncs, 1u);
    DetachDeadMount();

    Mount();
    ASSERT_TRUE(mounted_);
    std::string err;
    std::vector<std::string> why;
    std::vector<uint64_t> live = ReadGenerations(Flat(), kFirst, kBlocks, &err, &why);
    ASSERT_EQ("", err);
    size_t k = 0;
    EXPECT_EQ("", CheckPrefix(base, log, p.fsynced, p.issued, live, why, &k))
        << "live disk after kill -9 and remount";
    std::cout << "round " << round << ": recovered image = first " << k << " writes ("
              << k - std::min(k, p.fsynced) << " past the last fsync, "
              << p.completed - std::min(k, p.completed) << " acknowledged writes not kept)"
              << std::endl;

    // latest-crash is the point taken mid-writes, and it opens.
    EXPECT_EQ(mid_id, ReadLink(mnt_ + "/points/latest-crash"));
    std::vector<uint64_t> mid =
        ReadGenerations(Flat("points/latest-crash"), kFirst, kBlocks, &err, &why);
    EXPECT_EQ("", err);
    if (err.empty()) {
      EXPECT_EQ("", CheckPrefix(base, log, c0, n1, mid, why))
          << "point " << mid_id << " (taken after " << c0 << " completed writes)";
    }
    // The point from before the writes shows exactly the image of then.
    std::vector<uint64_t> before =
        ReadGenerations(Flat("points/" + before_id), kFirst, kBlocks, &err, &why);
    EXPECT_EQ("", err);
    if (err.empty()) {
      EXPECT_EQ("", CheckPrefix(base, {}, 0, 0, before, why)) << "point " << before_id;
    }
    UnmountAndVerify("round " + std::to_string(round));
    Mount();
    base = live;
    for (auto& g : base) {
      if (g == kGarbage) g = 0;  // already reported; keep the next rounds meaningful
    }
  }
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
  std::cout << kRounds << " rounds in " << secs << " s" << std::endl;
}

// Acceptance 1 with fio: kill -9 during `fio --rw=randwrite --fsync=64`.
// fio reports how many writes completed (N); every write before the last
// fsync that fio completed, i.e. the first 64*floor((N-1)/64) of its
// sequence, must verify after the remount (`fio --verify_only
// --number_ios`, same seed, same random map).
TEST_F(CrashTest, Kill9DuringFioRandwriteThenFioVerifiesTheFsyncedWrites) {
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(mounted_);
    std::string live_before = Sha256(Flat());
    std::string before_id = TakePoint("g");
    std::string randseed = std::to_string(rng_() % 1000000000 + 1);
    std::vector<std::string> job = {"fio",
                                    "--name=w",
                                    "--filename=" + Flat(),
                                    "--rw=randwrite",
                                    "--bs=4k",
                                    "--size=32M",
                                    "--verify=crc32c",
                                    "--ioengine=psync",
                                    "--randseed=" + randseed,
                                    "--verify_state_save=0",
                                    "--thread"};
    std::vector<std::string> write = job;
    for (const char* a : {"--fsync=64", "--do_verify=0", "--output-format=json"})
      write.push_back(a);
    std::string out = dir_ / ("fio" + std::to_string(round) + ".json");
    std::string errf = dir_ / ("fio" + std::to_string(round) + ".err");
    write.push_back("--output=" + out);
    uint64_t journal0 = DirBytes(vault_ + "/journal");
    pid_t fio = Spawn(write, dir_ / "fio.stdout", errf);
    ASSERT_GT(fio, 0);
    // A crash point once fio has written 1-8 MiB (of 32) through the
    // mount, the kill another 0.25-8 MiB later (a point syncs the journal,
    // so the fsyncs after it are what the check is about).
    auto deadline = Clock::now() + std::chrono::seconds(30);
    auto wait_journal = [&](uint64_t bytes) {
      while (DirBytes(vault_ + "/journal") < bytes && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
    };
    wait_journal(journal0 + (Uniform(4, 32) << 18));
    std::string mid_id = TakePoint("g");
    wait_journal(DirBytes(vault_ + "/journal") + (Uniform(1, 32) << 18));
    std::this_thread::sleep_for(std::chrono::microseconds(Uniform(0, 5000)));
    ASSERT_NO_FATAL_FAILURE(KillDaemon9(DaemonPid()));
    int rc = Reap(fio);
    EXPECT_NE(0, rc) << "fio finished before the daemon was killed: the round proves nothing";
    DetachDeadMount();

    nlohmann::json j;
    try {
      // fio puts its error lines before the JSON in the same file.
      std::string text = ReadFile(out);
      size_t brace = text.find("\n{");
      j = nlohmann::json::parse(text.rfind("{", 0) == 0 ? text : text.substr(brace + 1));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "fio wrote no JSON report (" << e.what() << "): " << ReadFile(out)
                    << ReadFile(errf);
    }
    uint64_t bytes = j.is_object() ? j["jobs"][0]["write"]["io_bytes"].get<uint64_t>() : 0;
    uint64_t n = bytes / kBlock;
    uint64_t fsynced = n == 0 ? 0 : (n - 1) / 64 * 64;
    std::cout << "round " << round << ": fio exit " << rc << " after " << n
              << " completed writes; verifying the first " << fsynced << std::endl;

    Mount();
    ASSERT_TRUE(mounted_);
    if (fsynced > 0) {
      std::vector<std::string> verify = job;
      verify.push_back("--verify_only");
      verify.push_back("--number_ios=" + std::to_string(fsynced));
      auto r = RunProgram(verify);
      EXPECT_EQ(0, r.exit_code) << "fio could not verify the " << fsynced
                                << " writes made before its last completed fsync:\n"
                                << r.out.substr(0, 2000) << r.err.substr(0, 2000);
    } else {
      ADD_FAILURE() << "fio completed no fsync before the kill (" << n << " writes)";
    }
    EXPECT_EQ(mid_id, ReadLink(mnt_ + "/points/latest-crash"));
    auto r = RunProgram({"dd", "if=" + Flat("points/latest-crash"), "of=/dev/null", "bs=1M"});
    EXPECT_EQ(0, r.exit_code) << "points/latest-crash does not read: " << r.err;
    EXPECT_EQ(live_before, Sha256(Flat("points/" + before_id)))
        << "the point taken before fio changed across the crash";
    UnmountAndVerify("round " + std::to_string(round));
    Mount();
  }
  // Smoke: the remounted disk takes and verifies a full fio run.
  auto r = RunProgram({"fio", "--name=s", "--filename=" + Flat(), "--rw=randwrite", "--bs=4k",
                       "--offset=48M", "--size=8M", "--verify=crc32c", "--do_verify=1",
                       "--ioengine=psync", "--fsync=64", "--verify_state_save=0"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

// Acceptance 2: clients (dd with one 32 MiB write, fio with 8 MiB writes,
// a large reader) killed -9 in the middle of their I/O leave the daemon
// up; reads, writes, fsync and the control socket keep working, and the
// vault is clean at the end.
TEST_F(CrashTest, ClientKilledMidIoLeavesTheDaemonUp) {
  pid_t daemon = DaemonPid();
  ASSERT_TRUE(Alive(daemon));
  std::string src = dir_ / "src";
  ASSERT_EQ(0, RunProgram({"dd", "if=/dev/urandom", "of=" + src, "bs=1M", "count=32"}).exit_code);
  int hits = 0;
  std::string probe;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::string> args;
    bool writer = true;
    if (round % 3 == 0) {
      args = {"dd", "if=" + src, "of=" + Flat(), "bs=32M", "count=1", "conv=notrunc"};
    } else if (round % 3 == 1) {
      args = {"fio",          "--name=c",    "--filename=" + Flat(), "--rw=write",
              "--bs=8M",      "--size=48M",  "--ioengine=psync",     "--thread",
              "--time_based", "--runtime=60"};
    } else {
      args = {"dd", "if=" + Flat(), "of=/dev/null", "bs=4M", "iflag=direct"};
      writer = false;
    }
    pid_t pid = Spawn(args, dir_ / "client.out", dir_ / "client.err");
    ASSERT_GT(pid, 0);
    // Wait until it is inside its I/O syscall on the mount, then a
    // random instant later kill it.
    long want = writer ? SYS_write : SYS_read;
    if (round % 3 == 1) want = SYS_pwrite64;
    // (A client that finishes first is not killed: it does not count.)
    auto deadline = Clock::now() + std::chrono::seconds(20);
    bool inside = false;
    while (Clock::now() < deadline && Alive(pid) && !(inside = InSyscall(pid, want))) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    EXPECT_TRUE(inside || !Alive(pid)) << args[0] << " never entered its I/O call";
    std::this_thread::sleep_for(std::chrono::microseconds(Uniform(0, 5000)));
    ::kill(pid, SIGKILL);
    int rc = Reap(pid);
    if (rc == 128 + SIGKILL) ++hits;
    std::cout << "round " << round << ": " << args[0] << (writer ? " (writer)" : " (reader)")
              << " ended with " << rc << std::endl;

    // The daemon is the same process and still serves.
    EXPECT_TRUE(Alive(daemon)) << "the daemon died with its client";
    EXPECT_EQ(daemon, DaemonPid());
    EXPECT_TRUE(IsMounted(mnt_));
    probe = RandomBytes(rng_, 1 << 20);
    EXPECT_EQ("", PwriteFsync(Flat(), 56u << 20, probe, /*fsync=*/true));
    std::string err;
    EXPECT_TRUE(Pread(Flat(), 56u << 20, probe.size(), &err) == probe)
        << "read-back differs " << err;
    EXPECT_EQ("", err);
    auto r = RunProgram({"dd", "if=" + Flat(), "of=/dev/null", "bs=1M"});
    EXPECT_EQ(0, r.exit_code) << "full read after the kill: " << r.err;
    r = RunRpfs({"--vault", vault_, "point", "list", "--json"});
    EXPECT_EQ(0, r.exit_code) << r.err;
  }
  EXPECT_GE(hits, 3) << "too few clients were actually killed mid-I/O";
  TakePoint("g");
  UnmountAndVerify("after the client kills");
  Mount();
  std::string err;
  EXPECT_TRUE(Pread(Flat(), 56u << 20, probe.size(), &err) == probe) << "last probe lost " << err;
}

// Acceptance 3: SIGTERM to the daemon while a writer is busy: it syncs,
// unmounts and exits; the vault lock is released; every write that was
// acknowledged survives (fsynced or not: a clean stop syncs); verify is
// clean.
TEST_F(CrashTest, SigtermSyncsAndExitsCleanly) {
  std::string a = RandomBytes(rng_, 4 << 20), b = RandomBytes(rng_, 2 << 20);
  ASSERT_EQ("", PwriteFsync(Flat(), 16u << 20, a, /*fsync=*/true));
  ASSERT_EQ("", PwriteFsync(Flat(), 24u << 20, b, /*fsync=*/false));
  constexpr uint32_t kBlocks = 2048;  // blocks 0..2047: the first 8 MiB
  std::atomic<uint64_t> gens{0};
  BlockWriter writer(Flat(), 0, kBlocks, &gens, rng_());
  writer.Start();
  ASSERT_TRUE(writer.WaitCompleted(Uniform(200, 2000))) << writer.Progress().error;
  pid_t pid = DaemonPid();
  ASSERT_EQ("rpfs", Comm(pid));
  ASSERT_EQ(0, ::kill(pid, SIGTERM));
  // The daemon exits by itself and lets go of the vault.
  bool exited = WaitLockFree(milliseconds(15000));
  EXPECT_TRUE(exited) << "the daemon still holds the vault 15 s after SIGTERM";
  for (int i = 0; i < 200 && Alive(pid); ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_FALSE(Alive(pid)) << "daemon pid " << pid << " still running after SIGTERM";
  writer.Stop();
  WriterProgress p = writer.Progress();
  std::vector<Write> log = writer.Log();
  std::cout << "SIGTERM after " << p.completed << " completed writes; writer: " << p.error
            << std::endl;
  mounted_ = false;
  EXPECT_FALSE(IsMounted(mnt_)) << "the mount is still there after the daemon exited";
  if (IsMounted(mnt_)) RunProgram({"fusermount3", "-u", "-z", mnt_});
  EXPECT_FALSE(std::filesystem::exists(vault_ + "/control.sock")) << "stale control socket";
  // The vault opens directly (no daemon) and is clean.
  for (bool deep : {false, true}) {
    std::vector<std::string> args = {"--vault", vault_, "verify"};
    if (deep) args.push_back("--deep");
    auto r = RunRpfs(args);
    EXPECT_EQ(0, r.exit_code) << r.out << r.err;
    EXPECT_NE(std::string::npos, r.out.find("clean")) << r.out;
  }
  ASSERT_TRUE(exited);
  Mount();
  std::string err;
  EXPECT_TRUE(Pread(Flat(), 16u << 20, a.size(), &err) == a) << "fsynced data lost " << err;
  EXPECT_TRUE(Pread(Flat(), 24u << 20, b.size(), &err) == b)
      << "acknowledged (unfsynced) data lost across a clean SIGTERM " << err;
  std::vector<std::string> why;
  std::vector<uint64_t> live = ReadGenerations(Flat(), 0, kBlocks, &err, &why);
  ASSERT_EQ("", err);
  EXPECT_EQ("",
            CheckPrefix(std::vector<uint64_t>(kBlocks, 0), log, p.completed, p.issued, live, why))
      << "after SIGTERM every acknowledged write must be there";
  UnmountAndVerify("after SIGTERM and remount");
}

}  // namespace
}  // namespace rpfs::testing
