// ImportImage (tools/images/image_import.h) against an image reader that hands
// out awkward runs: starting and ending inside blocks, a block split over
// two runs, zero blocks inside data, stretches longer than a batch and
// batches cut mid-run; once as a reader with its own buffer, once as one
// that reads into the room the import offers (as the raw reader does). The
// disk then reads back exactly the image, only blocks holding a non-zero
// byte have a stored version, progress only goes forward, and a reader
// error midway ends the import with that error.
#include "tools/images/image_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::tools {
namespace {

using rpfs::testing::TempDir;

// Serves [offset, offset + size) runs of `image`, in order; fails with
// Corruption at run `fail_at` if set. With takes_room, a run goes into the
// room offered (OfferRoom), cut to its size: the rest is the next run.
class FakeImage : public fs::ImageReader {
 public:
  FakeImage(const std::string& image, std::vector<std::pair<uint64_t, size_t>> runs,
            size_t fail_at = SIZE_MAX, bool takes_room = false)
      : image_(image), runs_(std::move(runs)), fail_at_(fail_at), takes_room_(takes_room) {}
  uint64_t capacity() const override { return image_.size(); }
  std::string format() const override { return "fake"; }
  Status Next(fs::ImageRun* run, bool* end) override {
    size_t room_bytes;
    char* room = TakeRoom(&room_bytes);
    if (!takes_room_) room = nullptr;
    if (next_ == fail_at_) return Status::Corruption("fake.img: grain 7 at offset 99 is bad");
    if (next_ == runs_.size()) {
      *end = true;
      return Status::OK();
    }
    const uint64_t offset = runs_[next_].first + done_;
    size_t size = runs_[next_].second - done_;
    if (room != nullptr) {
      size = std::min(size, room_bytes);
      std::memcpy(room, image_.data() + offset, size);
      run->data = room;
      ++runs_in_room_;
    } else {
      buf_ = image_.substr(offset, size);  // valid until the next call, like a real reader
      run->data = buf_.data();
    }
    done_ += size;
    if (done_ == runs_[next_].second) {
      ++next_;
      done_ = 0;
    }
    run->offset = offset;
    run->size = size;
    *end = false;
    return Status::OK();
  }
  size_t runs_in_room() const { return runs_in_room_; }

 private:
  const std::string& image_;
  std::vector<std::pair<uint64_t, size_t>> runs_;
  size_t fail_at_;
  const bool takes_room_;
  size_t next_ = 0;
  size_t done_ = 0;  // of runs_[next_], served already
  std::string buf_;
  size_t runs_in_room_ = 0;
};

class ImageImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(catalog::Vault::Create(dir_ / "v", catalog::VaultOptions(),
                                       catalog::OpenOptions(), &v_)
                    .ok());
    catalog::Group g;
    g.name = "g";
    ASSERT_TRUE(v_->CreateGroup(g).ok());
  }
  std::unique_ptr<catalog::Vault> v_;
  TempDir dir_;
};

constexpr uint64_t kMiB = 1 << 20;

// 20 MiB: random, text and zero blocks, with non-zero bytes in odd places.
std::string MakeImage() {
  std::string image(20 * kMiB, '\0');
  std::mt19937_64 rng(3);
  for (uint64_t b = 0; b < image.size() / 4096; ++b) {
    const int kind = static_cast<int>(rng() % 5);  // 0, 1: zero; 2: text; 3, 4: random
    for (uint64_t i = 0; i < 4096 && kind >= 2; ++i) {
      image[b * 4096 + i] = kind == 2 ? static_cast<char>('a' + (i / 31) % 26)
                                      : static_cast<char>(rng());
    }
  }
  image[100 * 4096 + 4095] = 'x';  // a block with one byte set, at its end
  image[300 * 4096] = 'y';         // ... at its start
  return image;
}

class ImageImportRoomTest : public ImageImportTest,
                            public ::testing::WithParamInterface<bool> {};

TEST_P(ImageImportRoomTest, AwkwardRunsReadBackExactly) {
  const bool takes_room = GetParam();
  const std::string image = MakeImage();
  catalog::Disk d;
  ASSERT_TRUE(v_->CreateDisk("vm/d", image.size(), "g", &d).ok());
  std::vector<std::pair<uint64_t, size_t>> runs = {
      {0, 512},                  // ends inside block 0
      {512, 3 * 4096},           // continues it, ends inside block 3
      {512 + 3 * 4096, 700},     // still inside block 3
      {64 * 1024, 9 * kMiB},     // longer than a batch: cut into several
      {10 * kMiB + 1024, 4096},  // straddles two blocks, after a hole
      {11 * kMiB, 6 * kMiB + 512},
      {17 * kMiB + 512, 3 * kMiB - 512},  // to the end
  };
  FakeImage reader(image, runs, SIZE_MAX, takes_room);
  std::vector<uint64_t> progress;
  ImportResult r;
  Status s = ImportImage(*v_, d, reader, &r, [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(image.size(), total);
    progress.push_back(done);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  if (takes_room) {
    EXPECT_GE(reader.runs_in_room(), runs.size()) << "the import offered no room";
  } else {
    EXPECT_EQ(reader.runs_in_room(), 0u);
  }

  // What the runs cover reads back; the rest (never served) reads zero.
  std::string want(image.size(), '\0');
  for (const auto& [offset, size] : runs) want.replace(offset, size, image, offset, size);
  std::string got(image.size(), '\0');
  ASSERT_TRUE(v_->Read(d.id, v_->Latest(d), 0, got.size(), got.data()).ok());
  EXPECT_TRUE(got == want) << "imported disk differs from the image";

  // Exactly the blocks with a non-zero byte were stored.
  uint64_t stored = 0, nonzero = 0;
  ASSERT_TRUE(v_->ScanData(d.id, v_->Latest(d), [&](uint64_t, const char*) {
                 ++stored;
                 return Status::OK();
               }).ok());
  for (uint64_t b = 0; b < want.size() / 4096; ++b) {
    if (want.find_first_not_of('\0', b * 4096) < (b + 1) * 4096) ++nonzero;
  }
  EXPECT_EQ(nonzero, stored);
  EXPECT_GE(r.data_bytes, (nonzero - 6) * 4096);  // partial pieces count their bytes only
  EXPECT_LE(r.data_bytes, nonzero * 4096);

  ASSERT_FALSE(progress.empty());
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_LE(progress[i - 1], progress[i]);
  EXPECT_EQ(image.size(), progress.back());
}

INSTANTIATE_TEST_SUITE_P(OwnBufferOrRoom, ImageImportRoomTest, ::testing::Bool());

TEST_F(ImageImportTest, ReaderErrorMidwayEndsTheImport) {
  const std::string image = MakeImage();
  catalog::Disk d;
  ASSERT_TRUE(v_->CreateDisk("vm/d", image.size(), "g", &d).ok());
  std::vector<std::pair<uint64_t, size_t>> runs;
  for (uint64_t at = 0; at < image.size(); at += kMiB) runs.emplace_back(at, kMiB);
  FakeImage reader(image, runs, /*fail_at=*/13);
  ImportResult r;
  Status s = ImportImage(*v_, d, reader, &r, nullptr);
  EXPECT_EQ(Status::Code::kInvalidArgument, s.code()) << s.ToString();  // the user's file
  EXPECT_EQ("fake.img: grain 7 at offset 99 is bad", s.message());
}

}  // namespace
}  // namespace rpfs::tools
