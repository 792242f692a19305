// OutputFile (tools/images/output_file.h) with SyncInBackground, the way the
// exports write: pieces in and out of order, big and small, aligned or
// not, next to each other and with holes between, while background syncs
// run (a 1 MiB step here, so there are many), some through Append(). The committed file holds
// exactly the bytes written at their offsets, holes stay holes, errors
// name the file and offset, and nothing is left as PATH.tmp.
#include "tools/images/output_file.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "tests/test_support.h"

namespace rpfs::tools {
namespace {

using rpfs::testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

TEST(OutputFile, BackgroundSyncsKeepEveryByteAndEveryHole) {
  TempDir dir;
  const std::string path = dir / "img";
  std::string data(9 * kMiB, '\0');
  std::mt19937_64 rng(5);
  for (char& c : data) c = static_cast<char>(rng());

  std::string want(40 * kMiB, '\0');
  std::unique_ptr<OutputFile> out;
  ASSERT_TRUE(OutputFile::Create(path, &out).ok());
  out->SyncInBackground(kMiB);
  auto write = [&](uint64_t offset, uint64_t from, size_t n) {
    ASSERT_TRUE(out->WriteAt(offset, data.data() + from, n).ok()) << offset;
    want.replace(offset, n, data, from, n);
  };
  write(0, 0, kMiB);
  write(4 * kMiB, kMiB, 9 * kMiB - kMiB);  // a sync starts
  write(3 * kMiB, 7, 512 << 10);          // behind the last one, odd source
  write(13 * kMiB, 0, 4096);              // small pieces side by side
  write(13 * kMiB + 4096, 8192, 4096);
  write(14 * kMiB + 7, 100, 300000);      // odd offset and length
  write(15 * kMiB + 100, 5, 2000);        // inside one page
  write(16 * kMiB, 4096, 768 << 10);
  write(16 * kMiB + (768 << 10), 0, 8192);
  for (int i = 0; i < 12; ++i) {          // more syncs, with gaps
    write(20 * kMiB + i * (kMiB + 8192), i * 4096, kMiB);
  }
  write(kMiB, 2 * kMiB, kMiB);            // right after the first
  ASSERT_TRUE(out->SetAppendOffset(34 * kMiB).ok());
  for (int i = 0; i < 40; ++i) {          // appends, flushed through WriteAt
    ASSERT_TRUE(out->Append(data.data() + i * 1000, 65536).ok());
    want.replace(34 * kMiB + i * 65536, 65536, data, i * 1000, 65536);
  }
  ASSERT_TRUE(out->Truncate(40 * kMiB).ok());
  ASSERT_TRUE(out->Commit().ok());

  EXPECT_TRUE(rpfs::testing::ReadFile(path) == want) << "committed bytes differ";
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  struct stat st;
  ASSERT_EQ(0, ::stat(path.c_str(), &st));
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 30 * kMiB) << "holes were filled";
}

// The syncs run while the writer goes on, not only in Commit: every step
// written asks for one, and they finish before Commit is called.
TEST(OutputFile, SyncsInTheBackgroundEveryStep) {
  TempDir dir;
  const std::string path = dir / "img";
  std::unique_ptr<OutputFile> out;
  ASSERT_TRUE(OutputFile::Create(path, &out).ok());
  const std::string data(kMiB, 'z');
  ASSERT_TRUE(out->WriteAt(0, data.data(), data.size()).ok());
  EXPECT_EQ(out->background_syncs(), 0u) << "synced before SyncInBackground";
  out->SyncInBackground(2 * kMiB);
  for (uint64_t at = kMiB; at < 9 * kMiB; at += kMiB) {
    ASSERT_TRUE(out->WriteAt(at, data.data(), data.size()).ok());
  }
  // 8 MiB at a 2 MiB step: four syncs asked for; one at least has run
  // (one still running takes later requests along).
  for (int i = 0; i < 1000 && out->background_syncs() == 0; ++i) ::usleep(10000);
  EXPECT_GE(out->background_syncs(), 1u);
  EXPECT_LE(out->background_syncs(), 4u);
  ASSERT_TRUE(out->Commit().ok());
  EXPECT_EQ(rpfs::testing::ReadFile(path), std::string(9 * kMiB, 'z'));
}

// Bytes a background sync made durable are dropped from the page cache: an export of a big
// disk does not fill memory with pages nobody reads again (and reuses the memory it freed).
TEST(OutputFile, SyncedBytesLeaveThePageCache) {
  TempDir dir;
  const std::string path = dir / "img";
  std::unique_ptr<OutputFile> out;
  ASSERT_TRUE(OutputFile::Create(path, &out).ok());
  out->SyncInBackground(2 * kMiB);
  const std::string data(kMiB, 'c');
  for (uint64_t at = 0; at < 16 * kMiB; at += kMiB) {
    ASSERT_TRUE(out->WriteAt(at, data.data(), data.size()).ok());
  }
  const size_t pages = 16 * kMiB / static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // The sync asked for after the last write runs in the background; wait for it.
  size_t resident = pages;
  for (int i = 0; i < 1000 && resident > pages / 8; ++i) {
    ::usleep(10000);
    resident = rpfs::testing::ResidentPages(out->tmp_path(), 16 * kMiB);
  }
  EXPECT_LE(resident, pages / 8) << "of " << pages << " pages written and synced";
  ASSERT_TRUE(out->Commit().ok());
  EXPECT_EQ(rpfs::testing::ReadFile(path), std::string(16 * kMiB, 'c'));
}

// A write that cannot land (here: past the file size limit) fails with the
// system's reason, the file and an offset, and nothing is left behind.
TEST(OutputFile, WriteFailureNamesFileAndOffset) {
  TempDir dir;
  const std::string path = dir / "img";
  rlimit old;
  ASSERT_EQ(0, ::getrlimit(RLIMIT_FSIZE, &old));
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = old;
  limited.rlim_cur = 6 * kMiB;
  ASSERT_EQ(0, ::setrlimit(RLIMIT_FSIZE, &limited));
  Status s;
  {
    std::unique_ptr<OutputFile> out;
    ASSERT_TRUE(OutputFile::Create(path, &out).ok());
    out->SyncInBackground(kMiB);
    const std::string data(kMiB, 'y');
    for (uint64_t at = 0; at < 12 * kMiB && s.ok(); at += kMiB) {
      s = out->WriteAt(at, data.data(), data.size());
    }
    if (s.ok()) s = out->Commit();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path + ".tmp at offset "), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("File too large"), std::string::npos) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

// A file that is never committed leaves nothing behind, syncing or not.
TEST(OutputFile, UncommittedLeavesNothing) {
  TempDir dir;
  const std::string path = dir / "img";
  {
    std::unique_ptr<OutputFile> out;
    ASSERT_TRUE(OutputFile::Create(path, &out).ok());
    out->SyncInBackground(kMiB);
    std::string data(9 * kMiB, 'x');
    ASSERT_TRUE(out->WriteAt(0, data.data(), data.size()).ok());
    EXPECT_TRUE(std::filesystem::exists(path + ".tmp"));
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace rpfs::tools
