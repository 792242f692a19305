// Prefetch of image data (ByteSource::Prefetch, fs/vmdk/image_reader.h kPrefetchBytes): a file
// source's Prefetch really brings the range into the page cache; the raw reader asks for the
// data regions ahead of what it reads, before reading them, and never for its holes; the
// sparse reader asks for the file ahead of its grains in a few large steps, not per grain.
//
// qemu-img and qemu-io (Debian qemu-utils) make the images: without them these tests fail.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/extent_readers.h"
#include "fs/vmdk/image_reader.h"
#include "fs/vmdk/sparse_vmdk_reader.h"
#include "tests/test_support.h"
#include "tests/tools/vmdk_test_images.h"

namespace rpfs::testing {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

using Range = std::pair<uint64_t, uint64_t>;  // [first, second)

bool Covered(const std::vector<Range>& ranges, uint64_t from, uint64_t to) {
  while (from < to) {
    bool moved = false;
    for (const Range& r : ranges) {
      if (r.first <= from && from < r.second) {
        from = r.second;
        moved = true;
      }
    }
    if (!moved) return false;
  }
  return true;
}

// A file source that records what is prefetched and read, and notes any read of bytes not
// prefetched before it.
class RecordingSource : public fs::ByteSource {
 public:
  explicit RecordingSource(std::unique_ptr<fs::ByteSource> file)
      : ByteSource(file->name()), file_(std::move(file)) {}
  uint64_t size() const override { return file_->size(); }
  uint64_t NextData(uint64_t from) const override { return file_->NextData(from); }
  uint64_t NextHole(uint64_t from) const override { return file_->NextHole(from); }
  void Prefetch(uint64_t offset, uint64_t n) const override {
    prefetched.emplace_back(offset, offset + n);
    file_->Prefetch(offset, n);
  }

  mutable std::vector<Range> prefetched, reads;
  mutable std::vector<Range> unprefetched_reads;

 protected:
  Status ReadRaw(uint64_t offset, size_t n, char* out) const override {
    reads.emplace_back(offset, offset + n);
    if (!Covered(prefetched, offset, offset + n)) unprefetched_reads.emplace_back(offset, offset + n);
    return file_->ReadAt(offset, n, out, "test read");
  }

 private:
  std::unique_ptr<fs::ByteSource> file_;
};

std::unique_ptr<RecordingSource> OpenRecording(const std::string& path) {
  std::unique_ptr<fs::ByteSource> file;
  Status s = fs::OpenFileSource(path, path, &file);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return file ? std::make_unique<RecordingSource>(std::move(file)) : nullptr;
}

uint64_t Drain(fs::ImageReader& r) {
  uint64_t bytes = 0;
  for (;;) {
    fs::ImageRun run;
    bool end = false;
    Status s = r.Next(&run, &end);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok() || end) return bytes;
    bytes += run.size;
  }
}

TEST(ImagePrefetch, FileSourcePrefetchReadsTheRangeIntoThePageCache) {
  TempDir dir;
  const std::string path = dir / "cold.raw";
  const size_t n = 16 * kMiB;
  WriteFile(path, std::string(n, 'x'));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fdatasync(fd), 0);  // clean pages, so the next call can drop them
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ::close(fd);
  const size_t pages = n / static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  ASSERT_LT(ResidentPages(path, n), pages / 2) << "the kernel kept the file cached";

  std::unique_ptr<fs::ByteSource> src;
  ASSERT_TRUE(fs::OpenFileSource(path, path, &src).ok());
  src->Prefetch(0, n);
  // The reads run in the background: wait for them (a disk reads 16 MiB well within this).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ResidentPages(path, n) < pages && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ResidentPages(path, n), pages);
}

TEST(ImagePrefetch, RawReaderPrefetchesTheDataAheadButNotTheHoles) {
  TempDir dir;
  const std::string img = dir / "alternating.raw";
  const uint64_t size = 256 * kMiB;  // data in MiB 0, 2, 4, ...; a 1 MiB hole after each
  ASSERT_TRUE(Ran({"qemu-img", "create", "-q", "-f", "raw", img, std::to_string(size)}));
  std::vector<std::string> io = {"qemu-io", "-f", "raw"};
  for (uint64_t m = 0; m < size / kMiB; m += 2) {
    io.insert(io.end(), {"-c", "write -P 0x5a " + std::to_string(m) + "M 1M"});
  }
  io.push_back(img);
  ASSERT_TRUE(Ran(io));

  auto src = OpenRecording(img);
  ASSERT_TRUE(src);
  RecordingSource* rec = src.get();
  auto reader = fs::NewFlatReader(std::move(src), 0, size, "raw");
  fs::ImageRun run;
  bool end = false;
  ASSERT_TRUE(reader->Next(&run, &end).ok());
  ASSERT_FALSE(end);
  // Before the first run was read, the data of the window ahead was asked for.
  uint64_t asked = 0;
  for (const Range& r : rec->prefetched) asked += r.second - r.first;
  EXPECT_GE(asked, fs::kPrefetchBytes / 2 - kMiB);
  EXPECT_EQ(Drain(*reader) + run.size, size / 2);

  EXPECT_TRUE(rec->unprefetched_reads.empty())
      << rec->unprefetched_reads.size() << " reads of data not prefetched, first at "
      << rec->unprefetched_reads.front().first;
  for (const Range& r : rec->prefetched) {
    // Every prefetched byte is data: MiB m holds data iff m is even.
    EXPECT_EQ(r.first / kMiB % 2, 0u) << "prefetch from " << r.first;
    EXPECT_LE(r.second, r.first / kMiB * kMiB + kMiB) << "prefetch into the hole after " << r.first;
  }
  EXPECT_TRUE(Covered(rec->prefetched, 0, kMiB));
  EXPECT_TRUE(Covered(rec->prefetched, size - 2 * kMiB, size - kMiB));
}

TEST(ImagePrefetch, SparseReaderPrefetchesAheadOfItsGrainsInLargeSteps) {
  TempDir dir;
  const std::string img = dir / "sparse.vmdk";
  // 96 MiB of grains, every other 64 KiB grain written: many short runs.
  std::vector<std::string> writes;
  for (uint64_t at = 0; at < 192 * kMiB; at += 128 * 1024) {
    writes.push_back("write -P 0x33 " + std::to_string(at) + " 64k");
  }
  ASSERT_TRUE(MakeVmdk(img, "monolithicSparse", 256 * kMiB, writes));

  auto src = OpenRecording(img);
  ASSERT_TRUE(src);
  RecordingSource* rec = src.get();
  std::unique_ptr<fs::SparseVmdkReader> reader;
  Status s = fs::SparseVmdkReader::Open(std::move(src), &reader);
  ASSERT_TRUE(s.ok()) << s.ToString();
  rec->reads.clear();  // the header and grain directory, read on opening
  rec->unprefetched_reads.clear();
  EXPECT_EQ(Drain(*reader), 96 * kMiB);

  // Grain tables (before the first grain: overhead) are read as the cursor reaches them.
  const uint64_t grains_from = reader->header().overhead;
  size_t grain_reads = 0;
  for (const Range& r : rec->reads) grain_reads += r.first >= grains_from;
  EXPECT_EQ(grain_reads, 1536u) << "one read per run of grains expected";
  size_t unprefetched = 0;
  for (const Range& r : rec->unprefetched_reads) unprefetched += r.first >= grains_from;
  EXPECT_EQ(unprefetched, 0u) << "grain reads not prefetched";
  // The grains span ~96 MiB of the file: a handful of calls, each at least a sixteenth of the
  // window but the last.
  EXPECT_LE(rec->prefetched.size(), 2 + 96 * kMiB / (fs::kPrefetchBytes / 16));
  for (size_t i = 0; i + 1 < rec->prefetched.size(); ++i) {
    EXPECT_GE(rec->prefetched[i].second - rec->prefetched[i].first, fs::kPrefetchBytes / 16);
  }
}

}  // namespace
}  // namespace rpfs::testing
