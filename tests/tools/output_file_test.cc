// OutputFile::UseDirectWrites (tools/output_file.h): big, aligned pieces go
// around the page cache where the file system allows O_DIRECT, the rest
// through it; the committed file holds exactly the bytes written, at their
// offsets, with holes where nothing was written.
#include "tools/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "tests/test_support.h"

namespace rpfs::tools {
namespace {

using rpfs::testing::TempDir;

// True if `dir`'s file system takes an aligned O_DIRECT write.
bool DirectWritesWork(const std::string& dir) {
  const std::string probe = dir + "/probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
  bool ok = false;
  if (fd >= 0) {
    void* p = std::aligned_alloc(4096, 4096);
    std::memset(p, 1, 4096);
    ok = ::pwrite(fd, p, 4096, 0) == 4096;
    std::free(p);
    ::close(fd);
  }
  ::unlink(probe.c_str());
  return ok;
}

TEST(OutputFileDirect, MixedPiecesLandWhereWritten) {
  TempDir dir;
  const std::string path = dir / "img";
  constexpr size_t kMiB = 1 << 20;
  std::unique_ptr<char, decltype(&std::free)> buf(
      static_cast<char*>(std::aligned_alloc(4096, 5 * kMiB)), &std::free);
  std::mt19937_64 rng(5);
  for (size_t i = 0; i < 5 * kMiB; ++i) buf.get()[i] = static_cast<char>(rng());

  std::string want(16 * kMiB, '\0');
  std::unique_ptr<OutputFile> out;
  ASSERT_TRUE(OutputFile::Create(path, &out).ok());
  out->UseDirectWrites();
  auto write = [&](uint64_t offset, const char* data, size_t n) {
    ASSERT_TRUE(out->WriteAt(offset, data, n).ok()) << offset;
    want.replace(offset, n, data, n);
  };
  const char* p = buf.get();
  write(0, p, kMiB);                         // direct
  write(4 * kMiB, p + kMiB, 4 * kMiB);       // direct
  write(3 * kMiB, p + 7, 512 << 10);         // memory not aligned: cached
  write(9 * kMiB, p, 4096);                  // small: cached
  write(10 * kMiB + 7, p + 100, 300000);     // offset and length not aligned: cached
  write(12 * kMiB, p + 4096, 256 << 10);     // the smallest direct piece
  write(12 * kMiB + (256 << 10), p, 8192);   // cached, right after a direct piece
  write(kMiB, p + 2 * kMiB, kMiB);           // direct, next to the first
  ASSERT_TRUE(out->Truncate(16 * kMiB).ok());
  ASSERT_TRUE(out->Commit().ok());

  EXPECT_TRUE(rpfs::testing::ReadFile(path) == want) << "committed bytes differ";
  struct stat st;
  ASSERT_EQ(0, ::stat(path.c_str(), &st));
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 10 * kMiB) << "holes were filled";
  if (DirectWritesWork(dir.path())) {
    EXPECT_EQ(uint64_t{6 * kMiB + (256 << 10)}, out->direct_bytes());
  } else {
    EXPECT_EQ(0u, out->direct_bytes());
  }
}

// Without UseDirectWrites nothing goes around the cache.
TEST(OutputFileDirect, OffByDefault) {
  TempDir dir;
  std::unique_ptr<char, decltype(&std::free)> buf(
      static_cast<char*>(std::aligned_alloc(4096, 1 << 20)), &std::free);
  std::memset(buf.get(), 'x', 1 << 20);
  std::unique_ptr<OutputFile> out;
  ASSERT_TRUE(OutputFile::Create(dir / "img", &out).ok());
  ASSERT_TRUE(out->WriteAt(0, buf.get(), 1 << 20).ok());
  ASSERT_TRUE(out->Commit().ok());
  EXPECT_EQ(0u, out->direct_bytes());
  EXPECT_EQ(std::string(1 << 20, 'x'), rpfs::testing::ReadFile(dir / "img"));
}

}  // namespace
}  // namespace rpfs::tools
