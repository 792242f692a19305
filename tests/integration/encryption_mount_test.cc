// Encryption at rest through a real FUSE mount (issue 8, acceptance 6):
// random data written through the mount is found in no file of the vault
// (while the same search finds it in a vault without encryption), a wrong
// or missing RPFS_PASSPHRASE_FILE gets exit 1 and one line from the CLI
// and from mount, the right one reads back the same bytes, a tampered
// seal is corruption (verify: exit 2; read: EIO), a passphrase change
// rewrites no data, and a kill -9 of the daemon mid-write reopens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "journal/coding.h"
#include "journal/crc32c.h"
#include "journal/payload_sealer.h"
#include "journal/segment_reader.h"
#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

constexpr size_t kBlock = 4096;

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(std::random_device{}());
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// How many of the 64-byte pieces of `data` at 64-byte-aligned offsets
// occur, at any byte offset, in any regular file under dir (journal
// segments, LMDB's data.mdb and lock.mdb, everything). Any 4 KiB window
// of the data that a file held would show as 63 or 64 of them. *where
// names the first one found.
size_t CountLeakedPieces(const std::string& dir, const std::string& data, std::string* where) {
  constexpr size_t kPiece = 64;
  const size_t pieces = data.size() / kPiece;
  std::unordered_map<uint64_t, uint32_t> by_prefix;
  std::vector<uint64_t> filter((size_t{1} << 24) / 64);  // a 2^24-bit prefilter
  auto slot = [](uint64_t v) { return (v * 0x9E3779B97F4A7C15ull) >> 40; };
  for (size_t i = 0; i < pieces; ++i) {
    uint64_t v;
    std::memcpy(&v, data.data() + i * kPiece, 8);
    by_prefix[v] = static_cast<uint32_t>(i);
    filter[slot(v) >> 6] |= uint64_t{1} << (slot(v) & 63);
  }
  std::vector<char> found(pieces, 0);
  size_t n = 0, files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string bytes = ReadFile(e.path().string());
    for (size_t at = 0; at + kPiece <= bytes.size(); ++at) {
      uint64_t v;
      std::memcpy(&v, bytes.data() + at, 8);
      const uint64_t s = slot(v);
      if (!((filter[s >> 6] >> (s & 63)) & 1)) continue;
      auto it = by_prefix.find(v);
      if (it == by_prefix.end() || found[it->second]) continue;
      if (std::memcmp(bytes.data() + at, data.data() + size_t{it->second} * kPiece, kPiece) != 0) continue;
      found[it->second] = 1;
      if (n++ == 0) *where = e.path().string() + " offset " + std::to_string(at);
    }
  }
  EXPECT_GE(files, 3u) << "searched too few files under " << dir;
  return n;
}

class EncryptedMount : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK))
        << "/dev/fuse is not usable: FUSE tests cannot run here (they must not be skipped)";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(0, ::mkdir(mnt_.c_str(), 0755));
    pass_ = dir_ / "pass";
    wrong_ = dir_ / "wrong";
    WriteFile(pass_, "correct horse battery staple\n");
    WriteFile(wrong_, "correct horse battery stapler\n");
  }
  void TearDown() override {
    if (IsMounted(mnt_)) {
      RunProgram({"fusermount3", "-u", mnt_});
      if (IsMounted(mnt_)) RunProgram({"fusermount3", "-u", "-z", mnt_});
    }
  }

  // rpfs with RPFS_PASSPHRASE_FILE=file ("" : none).
  CliResult Run(const std::vector<std::string>& args, const std::string& file) {
    return RunRpfs(args, {"RPFS_PASSPHRASE_FILE=" + file});
  }
  CliResult Expect(const std::vector<std::string>& args, const std::string& file) {
    CliResult r = Run(args, file);
    std::string cmd = "rpfs";
    for (auto& a : args) cmd += " " + a;
    EXPECT_EQ(0, r.exit_code) << cmd << "\n" << r.out << r.err;
    return r;
  }
  // A vault with group g and a 64 MiB disk vm/d0, 1 MiB segments.
  void Init(const std::string& vault, bool encrypt) {
    std::vector<std::string> args = {"init", vault, "--segment-size", "1M"};
    if (encrypt) args.push_back("--encrypt");
    Expect(args, pass_);
    Expect({"--vault", vault, "group", "create", "g"}, pass_);
    Expect({"--vault", vault, "disk", "create", "vm/d0", "--size", "64M", "--group", "g"}, pass_);
  }
  void Mount(const std::string& vault, const std::string& file) {
    CliResult r = Run({"mount", vault, mnt_}, file);
    ASSERT_EQ(0, r.exit_code) << r.err;
    struct stat st;
    ASSERT_EQ(0, ::stat((mnt_ + "/disks").c_str(), &st)) << "mount did not come up";
  }
  void Unmount(const std::string& vault) {
    Expect({"umount", mnt_}, "");
    ASSERT_TRUE(WaitLockFree(vault)) << "the mount daemon did not exit after umount";
  }
  bool WaitLockFree(const std::string& vault) {
    for (int i = 0; i < 400; ++i) {
      int fd = ::open((vault + "/LOCK").c_str(), O_RDONLY);
      bool free = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      if (fd >= 0) ::close(fd);
      if (free) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  std::string Flat() const { return mnt_ + "/disks/vm/d0-flat.vmdk"; }
  void WriteThroughMount(const std::string& data, uint64_t offset) {
    int fd = ::open(Flat().c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    for (size_t done = 0; done < data.size();) {
      const size_t n = std::min<size_t>(1 << 20, data.size() - done);
      ssize_t w = ::pwrite(fd, data.data() + done, n, static_cast<off_t>(offset + done));
      ASSERT_GT(w, 0) << std::strerror(errno);
      done += static_cast<size_t>(w);
    }
    ASSERT_EQ(0, ::fsync(fd));
    ::close(fd);
  }
  // Encrypted vault with `data` written through the mount at offset 0
  // and a point after it; unmounted.
  void MakeWritten(const std::string& vault, bool encrypt, const std::string& data) {
    Init(vault, encrypt);
    ASSERT_NO_FATAL_FAILURE(Mount(vault, pass_));
    ASSERT_NO_FATAL_FAILURE(WriteThroughMount(data, 0));
    Expect({"--vault", vault, "point", "create", "g"}, "");  // forwarded to the daemon
    ASSERT_NO_FATAL_FAILURE(Unmount(vault));
  }
  std::string Image(const std::string& data) const {
    std::string image = data;
    image.resize(64 << 20, '\0');
    return image;
  }

  TempDir dir_;
  std::string mnt_, pass_, wrong_;
};

TEST_F(EncryptedMount, NoByteOfTheDataInAnyVaultFile) {
  const std::string data = RandomBytes(32 << 20);
  const std::string sealed = dir_ / "sealed", plain = dir_ / "plain";
  ASSERT_NO_FATAL_FAILURE(MakeWritten(sealed, true, data));
  ASSERT_NO_FATAL_FAILURE(MakeWritten(plain, false, data));
  const size_t pieces = data.size() / 64;
  std::string where;
  const size_t leaked = CountLeakedPieces(sealed, data, &where);
  EXPECT_EQ(0u, leaked) << "plaintext of the disk in the encrypted vault, first at " << where;
  // The control: the same search finds the data where it is stored as is.
  where.clear();
  const size_t found = CountLeakedPieces(plain, data, &where);
  EXPECT_GE(found, pieces * 99 / 100) << "the search cannot find stored data: it proves nothing";
  std::cout << "64-byte pieces of the data found: encrypted vault " << leaked << " of " << pieces
            << ", unencrypted vault " << found << " of " << pieces << std::endl;
  // An unencrypted vault ignores the variable, even a bad one; its
  // passphrase (the hash replication pairs by) changes all the same.
  Expect({"--vault", plain, "verify"}, dir_ / "no-such-file");
  const std::string next = dir_ / "next";
  WriteFile(next, "the next passphrase\n");
  CliResult r = Run({"--vault", plain, "vault", "passphrase", "--new-passphrase-file", next}, wrong_);
  EXPECT_EQ(1, r.exit_code);
  EXPECT_EQ("rpfs: wrong passphrase for vault " + plain + "\n", r.err);
  r = Expect({"--vault", plain, "vault", "passphrase", "--new-passphrase-file", next}, pass_);
  EXPECT_EQ("vault " + plain + ": passphrase changed\n", r.out);
  r = Run({"--vault", plain, "vault", "passphrase", "--new-passphrase-file", pass_}, pass_);
  EXPECT_EQ(1, r.exit_code) << "the old passphrase still matches";
}

TEST_F(EncryptedMount, OnlyTheRightPassphraseReadsTheVault) {
  const std::string vault = dir_ / "v", out = dir_ / "out.raw";
  const std::string data = RandomBytes(8 << 20);
  ASSERT_NO_FATAL_FAILURE(MakeWritten(vault, true, data));
  const std::vector<std::string> export_args = {"--vault", vault, "export", "vm/d0", out,
                                                "--format", "raw"};
  const std::string wrong_line = "rpfs: wrong passphrase for vault " + vault + "\n";
  CliResult r = Run(export_args, wrong_);
  EXPECT_EQ(1, r.exit_code);
  EXPECT_EQ(wrong_line, r.err);
  EXPECT_FALSE(std::filesystem::exists(out));
  r = Run({"mount", vault, mnt_}, wrong_);
  EXPECT_EQ(1, r.exit_code);
  EXPECT_EQ(wrong_line, r.err);
  EXPECT_FALSE(IsMounted(mnt_));
  ASSERT_TRUE(WaitLockFree(vault));
  for (const std::string& missing : {std::string(""), dir_ / "no-such-file"}) {
    for (const auto& args : {export_args, std::vector<std::string>{"mount", vault, mnt_}}) {
      r = Run(args, missing);
      EXPECT_EQ(1, r.exit_code) << args[0] << " " << args[2] << ": " << r.err;
      EXPECT_NE(std::string::npos, r.err.find("RPFS_PASSPHRASE_FILE")) << r.err;
      EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << r.err;
      EXPECT_FALSE(IsMounted(mnt_));
    }
  }
  // The right one: export and the mount read back exactly what was written.
  const std::string want = Sha256Hex(Image(data));
  Expect(export_args, pass_);
  EXPECT_EQ(want, Sha256Hex(ReadFile(out))) << "export of the encrypted vault";
  ASSERT_NO_FATAL_FAILURE(Mount(vault, pass_));
  EXPECT_EQ(want, Sha256Hex(ReadFile(Flat()))) << "the mounted disk";
  ASSERT_NO_FATAL_FAILURE(Unmount(vault));
  r = Expect({"--vault", vault, "verify", "--deep"}, pass_);
  EXPECT_NE(std::string::npos, r.out.find("clean")) << r.out;
}

TEST_F(EncryptedMount, ATamperedSealFailsVerifyAndReadsAsEIO) {
  const std::string vault = dir_ / "v";
  const std::string data = RandomBytes(8 << 20);
  ASSERT_NO_FATAL_FAILURE(MakeWritten(vault, true, data));
  // A write record of the first segment (indexed: recovery does not
  // scan it): a bit of its ciphertext flipped and a crc that matches again.
  const std::string seg = vault + "/journal/" + journal::SegmentFileName(1);
  int fd = ::open(seg.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  journal::SegmentReader reader(fd, FileSize(seg), journal::kSegmentHeaderSize);
  journal::RecordHeader h;
  std::string payload, why;
  uint64_t at = 0;
  bool got = false;
  while (reader.Next(&h, &payload, &at, &why) == journal::SegmentReader::Result::kRecord) {
    if (h.type == journal::RecordType::kWrite && h.offset >= 64 * kBlock) {
      got = true;
      break;
    }
  }
  ::close(fd);
  ASSERT_TRUE(got) << "no write record in segment 1";
  ASSERT_TRUE(h.flags & journal::kSealed);
  std::string bytes = ReadFile(seg);
  char* rec = bytes.data() + at;
  rec[journal::kRecordHeaderSize + journal::kSealNonceSize + 2000] ^= 1;
  uint32_t crc = crc32c::Value(rec + 4, journal::kRecordHeaderSize - 4);
  crc = crc32c::Extend(crc, rec + journal::kRecordHeaderSize, h.payload_len);
  PutLE32(rec, crc32c::Mask(crc));
  WriteFile(seg, bytes);

  const std::string where = "segment 00000001.seg offset " + std::to_string(at);
  for (bool deep : {false, true}) {
    std::vector<std::string> args = {"--vault", vault, "verify"};
    if (deep) args.push_back("--deep");
    CliResult r = Run(args, pass_);
    EXPECT_EQ(2, r.exit_code) << r.out << r.err;
    EXPECT_NE(std::string::npos, r.err.find(where)) << r.err;
  }
  ASSERT_NO_FATAL_FAILURE(Mount(vault, pass_));
  int f = ::open(Flat().c_str(), O_RDONLY);
  ASSERT_GE(f, 0);
  std::string block(kBlock, '\0');
  errno = 0;
  EXPECT_EQ(-1, ::pread(f, block.data(), kBlock, static_cast<off_t>(h.offset)));
  EXPECT_EQ(EIO, errno);
  ::close(f);
  // Blocks elsewhere read fine (a fresh handle, past any readahead of it).
  f = ::open(Flat().c_str(), O_RDONLY);
  const uint64_t other = h.offset + (512 << 10);
  ASSERT_EQ(static_cast<ssize_t>(kBlock), ::pread(f, block.data(), kBlock, static_cast<off_t>(other)));
  EXPECT_EQ(data.substr(other, kBlock), block) << "another block";
  ::close(f);
  ASSERT_NO_FATAL_FAILURE(Unmount(vault));
}

TEST_F(EncryptedMount, PassphraseChangeRewritesNoDataAndPruneStillReadsBack) {
  const std::string vault = dir_ / "v", out = dir_ / "out.raw";
  // A generated passphrase, printed once.
  CliResult r = Expect({"init", vault, "--encrypt", "--segment-size", "1M"}, "");
  const size_t p = r.out.find("passphrase: ");
  ASSERT_NE(std::string::npos, p) << r.out;
  const std::string generated = r.out.substr(p + 12, r.out.find('\n', p) - p - 12);
  const std::string first = dir_ / "first", second = dir_ / "second", third = dir_ / "third";
  WriteFile(first, generated + "\n");
  WriteFile(second, "second passphrase\n");
  WriteFile(third, "third passphrase\n");
  Expect({"--vault", vault, "group", "create", "g", "--retention", "1s"}, first);
  Expect({"--vault", vault, "disk", "create", "vm/d0", "--size", "64M", "--group", "g"}, first);
  // 6 MiB, then three of every four 64 KiB pieces of it again: the old
  // segments end up a quarter live, and compaction copies what is left.
  std::string image(64 << 20, '\0');
  const std::string data = RandomBytes(6 << 20), again = RandomBytes(6 << 20);
  image.replace(0, data.size(), data);
  ASSERT_NO_FATAL_FAILURE(Mount(vault, first));
  ASSERT_NO_FATAL_FAILURE(WriteThroughMount(data, 0));
  for (size_t at = 0; at < again.size(); at += 64 << 10) {
    if ((at >> 16) % 4 == 0) continue;
    ASSERT_NO_FATAL_FAILURE(WriteThroughMount(again.substr(at, 64 << 10), at));
    image.replace(at, 64 << 10, again.substr(at, 64 << 10));
  }
  ASSERT_NO_FATAL_FAILURE(Unmount(vault));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // past the 1 s window
  r = Expect({"--vault", vault, "prune"}, first);
  std::cout << r.out;
  EXPECT_EQ(std::string::npos, r.out.find("copied 0 B")) << "prune copied nothing: " << r.out;
  Expect({"--vault", vault, "export", "vm/d0", out, "--format", "raw"}, first);
  EXPECT_EQ(Sha256Hex(image), Sha256Hex(ReadFile(out))) << "after prune";

  std::map<std::string, std::string> journal_before;
  for (const auto& e : std::filesystem::directory_iterator(vault + "/journal")) {
    journal_before[e.path().string()] = Sha256Hex(ReadFile(e.path().string()));
  }
  r = Run({"--vault", vault, "vault", "passphrase", "--new-passphrase-file", second}, wrong_);
  EXPECT_EQ(1, r.exit_code);
  EXPECT_EQ("rpfs: wrong passphrase for vault " + vault + "\n", r.err);
  r = Expect({"--vault", vault, "vault", "passphrase", "--new-passphrase-file", second}, first);
  EXPECT_NE(std::string::npos, r.out.find("no data rewritten")) << r.out;
  std::map<std::string, std::string> journal_after;
  for (const auto& e : std::filesystem::directory_iterator(vault + "/journal")) {
    journal_after[e.path().string()] = Sha256Hex(ReadFile(e.path().string()));
  }
  EXPECT_EQ(journal_before, journal_after) << "a passphrase change rewrote journal data";
  r = Run({"--vault", vault, "export", "vm/d0", out, "--format", "raw"}, first);
  EXPECT_EQ(1, r.exit_code) << "the old passphrase still opens the vault";
  // While mounted, the daemon does it; the current passphrase must be given.
  ASSERT_NO_FATAL_FAILURE(Mount(vault, second));
  r = Run({"--vault", vault, "vault", "passphrase", "--new-passphrase-file", third}, second);
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("--passphrase-file")) << r.err;
  Expect({"--vault", vault, "vault", "passphrase", "--new-passphrase-file", third,
          "--passphrase-file", second},
         "");
  EXPECT_EQ(Sha256Hex(image), Sha256Hex(ReadFile(Flat())));
  ASSERT_NO_FATAL_FAILURE(Unmount(vault));
  r = Run({"--vault", vault, "verify", "--deep"}, second);
  EXPECT_EQ(1, r.exit_code) << r.out << r.err;
  r = Expect({"--vault", vault, "verify", "--deep"}, third);
  EXPECT_NE(std::string::npos, r.out.find("clean")) << r.out;
}

// Recognizable blocks: magic, block, generation, a fill derived from them.
void FillBlock(uint64_t block, uint64_t gen, char* out) {
  uint64_t x = block * 0x9E3779B97F4A7C15ull ^ gen;
  for (size_t i = 0; i < kBlock; i += 8) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const uint64_t v = i == 0 ? 0x4e4552434e525052ull : i == 8 ? block : i == 16 ? gen : x;
    std::memcpy(out + i, &v, 8);
  }
}

TEST_F(EncryptedMount, Kill9OfTheDaemonMidWriteReopens) {
  const std::string vault = dir_ / "v";
  Init(vault, true);
  ASSERT_NO_FATAL_FAILURE(Mount(vault, pass_));
  constexpr uint64_t kBlocks = 2048;  // 8 MiB
  std::mutex mu;
  // (block, gen) in issue order: a write the daemon took may never have
  // been acknowledged, so it is logged before it is made.
  std::vector<std::pair<uint64_t, uint64_t>> log;
  size_t fsynced = 0;  // writes covered by a completed fsync
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int fd = ::open(Flat().c_str(), O_WRONLY);
    if (fd < 0) return;
    std::mt19937_64 rng(std::random_device{}());
    char buf[kBlock];
    for (uint64_t gen = 1; !stop; ++gen) {
      const uint64_t b = rng() % kBlocks;
      FillBlock(b, gen, buf);
      {
        std::lock_guard<std::mutex> l(mu);
        log.emplace_back(b, gen);
      }
      if (::pwrite(fd, buf, kBlock, static_cast<off_t>(b * kBlock)) != static_cast<ssize_t>(kBlock)) break;
      if (gen % 64 == 0) {
        if (::fsync(fd) != 0) break;
        std::lock_guard<std::mutex> l(mu);
        fsynced = log.size();
      }
    }
    ::close(fd);
  });
  std::mt19937 rng(std::random_device{}());
  const size_t target = 1000 + rng() % 3000;
  for (int i = 0; i < 3000; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (log.size() >= target) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const pid_t pid = static_cast<pid_t>(std::strtol(ReadFile(vault + "/LOCK").c_str(), nullptr, 10));
  ASSERT_GT(pid, 1);
  std::string comm = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  ASSERT_EQ("rpfs\n", comm) << "LOCK names pid " << pid << ", which is not the daemon";
  ASSERT_EQ(0, ::kill(pid, SIGKILL));
  ASSERT_TRUE(WaitLockFree(vault));
  stop = true;
  writer.join();
  RunProgram({"fusermount3", "-u", "-z", mnt_});
  std::cout << "killed the daemon after " << log.size() << " writes (" << fsynced << " fsynced)"
            << std::endl;
  ASSERT_GE(fsynced, 64u) << "no fsync completed before the kill: the test proves nothing";

  ASSERT_NO_FATAL_FAILURE(Mount(vault, pass_));
  const std::string disk = ReadFile(Flat()).substr(0, kBlocks * kBlock);
  ASSERT_EQ(kBlocks * kBlock, disk.size());
  std::vector<uint64_t> must(kBlocks, 0);  // the newest fsynced gen per block
  std::vector<std::set<uint64_t>> wrote(kBlocks);
  for (size_t i = 0; i < log.size(); ++i) {
    if (i < fsynced) must[log[i].first] = log[i].second;
    wrote[log[i].first].insert(log[i].second);
  }
  char expect[kBlock];
  for (uint64_t b = 0; b < kBlocks; ++b) {
    const char* p = disk.data() + b * kBlock;
    uint64_t gen = 0;
    if (p[0] != 0 || std::memcmp(p, p + 1, kBlock - 1) != 0) {
      std::memcpy(&gen, p + 16, 8);
      FillBlock(b, gen, expect);
      ASSERT_TRUE(wrote[b].count(gen) && std::memcmp(expect, p, kBlock) == 0)
          << "block " << b << " holds bytes no write put there";
    }
    ASSERT_GE(gen, must[b]) << "block " << b << " lost an fsynced write";
  }
  ASSERT_NO_FATAL_FAILURE(Unmount(vault));
  CliResult r = Expect({"--vault", vault, "verify", "--deep"}, pass_);
  EXPECT_NE(std::string::npos, r.out.find("clean")) << r.out;
}

}  // namespace
}  // namespace rpfs::testing
