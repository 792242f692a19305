// The daemon's readahead for O_DIRECT readers (fs/read_ahead.h), through a
// real mount: a sequential O_DIRECT reader of a scattered disk finds the
// journal records of the next megabytes already coming into the page cache
// (mincore on the segment files, evicted first), a random one does not make
// the daemon read anything ahead, and both read exactly what was written.
#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

#include "tests/integration/mount_fixture.h"

namespace rpfs::testing {
namespace {

constexpr size_t kDisk = 64u << 20;
constexpr size_t kMiB = 1u << 20;
constexpr size_t kChunk = 64u << 10;

class DirectReadAheadTest : public MountedVault {
 protected:
  void SetUp() override {
    MountedVault::SetUp();
    if (HasFatalFailure()) return;
    model_.resize(kDisk);
    std::mt19937_64 rng(12);
    for (char& c : model_) c = static_cast<char>(rng());
    // Written 64 KiB at a time in random order, as a guest scatters a
    // disk: a sequential read of the disk jumps about the journal, so the
    // kernel's own readahead of the segment files cannot guess what comes
    // next (on a layout in block order it reads ahead by itself).
    int fd = ::open(Flat().c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::vector<size_t> order;
    for (size_t off = 0; off < kDisk; off += kChunk) order.push_back(off);
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t off : order) {
      ASSERT_EQ(static_cast<ssize_t>(kChunk), ::pwrite(fd, model_.data() + off, kChunk, off));
    }
    ASSERT_EQ(0, ::fsync(fd));
    ::close(fd);
  }

  std::vector<std::string> Segments() {
    std::vector<std::string> out;
    glob_t g;
    if (::glob((vault_ + "/journal/*.seg").c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    return out;
  }
  void EvictSegments() {
    for (const std::string& s : Segments()) {
      int fd = ::open(s.c_str(), O_RDONLY);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(0, ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
      ::close(fd);
    }
  }
  size_t ResidentSegmentBytes() {
    size_t pages = 0;
    for (const std::string& s : Segments()) pages += ResidentPages(s, FileSize(s));
    return pages * 4096;
  }
  // O_DIRECT read of [off, off + kChunk), checked against the model.
  void DirectRead(int fd, size_t off) {
    ASSERT_EQ(static_cast<ssize_t>(kChunk), ::pread(fd, buf_, kChunk, static_cast<off_t>(off)));
    ASSERT_EQ(0, std::memcmp(model_.data() + off, buf_, kChunk)) << "at " << off;
  }

  void TearDown() override {
    std::free(buf_);
    MountedVault::TearDown();
  }

  std::string model_;
  char* buf_ = static_cast<char*>(std::aligned_alloc(4096, kChunk));
};

TEST_F(DirectReadAheadTest, ASequentialReaderFindsTheNextMegabytesComing) {
  EvictSegments();
  ASSERT_LT(ResidentSegmentBytes(), kMiB) << "the kernel kept the segments cached";
  int fd = ::open(Flat().c_str(), O_RDONLY | O_DIRECT);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  for (size_t off = 0; off < 3 * kMiB; off += kChunk) ASSERT_NO_FATAL_FAILURE(DirectRead(fd, off));
  // 3 MiB read; the daemon asked for the 4 MiB ahead of the reader, twice
  // (at 192 KiB and again at 2.25 MiB): 7 MiB or so. Without it, about
  // what was read (the kernel reads a random stretch as it is).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t resident = 0;
  while ((resident = ResidentSegmentBytes()) < 5 * kMiB && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(resident, 5 * kMiB);
  EXPECT_LT(resident, 16 * kMiB) << "read far more than a window ahead";
  // The rest of the disk reads back exactly, the readahead keeping ahead.
  for (size_t off = 2 * kMiB; off < kDisk; off += kChunk) ASSERT_NO_FATAL_FAILURE(DirectRead(fd, off));
  ::close(fd);
}

TEST_F(DirectReadAheadTest, ARandomReaderMakesTheDaemonReadNothingAhead) {
  EvictSegments();
  int fd = ::open(Flat().c_str(), O_RDONLY | O_DIRECT);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  // 32 pieces of 64 KiB, 2 MiB apart, in random order.
  std::vector<size_t> offsets;
  for (size_t off = 0; off < kDisk; off += 2 * kMiB) offsets.push_back(off);
  std::shuffle(offsets.begin(), offsets.end(), std::mt19937_64(5));
  for (size_t off : offsets) ASSERT_NO_FATAL_FAILURE(DirectRead(fd, off));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // 2 MiB read, a little more with record headers and the kernel's own
  // readahead of a stretch.
  EXPECT_LT(ResidentSegmentBytes(), 4 * kMiB);
  ::close(fd);
}

}  // namespace
}  // namespace rpfs::testing
