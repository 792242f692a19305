// Flat byte ranges as disks: raw images, FLAT/VMFS extents, ZERO extents.
#include <algorithm>
#include <vector>

#include "fs/vmdk/extent_readers.h"
#include "journal/page_populate.h"

namespace rpfs::fs {
namespace {

// Runs start and end on this boundary of the extent (a data region found
// by SEEK_DATA/SEEK_HOLE is widened to it), so the vault gets whole blocks.
constexpr uint64_t kRunAlign = 64 << 10;

class FlatReader : public ImageReader {
 public:
  FlatReader(std::unique_ptr<ByteSource> src, uint64_t start, uint64_t length,
             std::string format)
      : src_(std::move(src)), start_(start), length_(length), format_(std::move(format)) {}

  uint64_t capacity() const override { return length_; }
  std::string format() const override { return format_; }

  Status Next(ImageRun* run, bool* end) override {
    size_t room_bytes;
    char* const room = TakeRoom(&room_bytes);
    if (pos_ < length_ && pos_ >= data_end_) {
      // Past the data region found last: find the next one, and where it
      // ends, so holes are neither read nor scanned for zeros.
      uint64_t data = src_->NextData(start_ + pos_);
      data = data < start_ ? 0 : data - start_;
      pos_ = std::max(pos_, data / kRunAlign * kRunAlign);
      uint64_t hole = src_->NextHole(start_ + std::max(pos_, data));
      hole = hole < start_ ? length_ : hole - start_;
      data_end_ = std::min(length_, (hole + kRunAlign - 1) / kRunAlign * kRunAlign);
      if (data_end_ <= pos_) data_end_ = length_;  // cannot tell: read on
    }
    if (pos_ >= length_) {
      *end = true;
      return Status::OK();
    }
    PrefetchAhead();
    size_t n = static_cast<size_t>(std::min<uint64_t>(kMaxRunBytes, data_end_ - pos_));
    char* into = room;
    if (into != nullptr) {
      n = std::min(n, room_bytes);
    } else {
      if (buf_.capacity() < n) {
        buf_.reserve(n);
        journal::PopulatePages(buf_.data(), buf_.capacity());
      }
      if (buf_.size() < n) buf_.resize(n);
      into = buf_.data();
    }
    RPFS_RETURN_IF_ERROR(src_->ReadAt(start_ + pos_, n, into, "extent data"));
    run->offset = pos_;
    run->data = into;
    run->size = n;
    pos_ += n;
    *end = false;
    return Status::OK();
  }

 private:
  // Prefetches the data regions of [prefetched_, pos_ + kPrefetchBytes),
  // not its holes (a hole read in is a page of zeros made for nothing).
  void PrefetchAhead() {
    const uint64_t until = std::min(length_, pos_ + kPrefetchBytes);
    prefetched_ = std::max(prefetched_, pos_);
    while (prefetched_ < until) {
      uint64_t data = src_->NextData(start_ + prefetched_);
      if (data >= start_ + until) break;
      data = std::max(data, start_ + prefetched_);
      uint64_t hole = src_->NextHole(data);
      if (hole <= data || hole > start_ + until) hole = start_ + until;  // or cannot tell
      src_->Prefetch(data, hole - data);
      prefetched_ = hole - start_;
    }
    prefetched_ = std::max(prefetched_, until);
  }

  std::unique_ptr<ByteSource> src_;
  const uint64_t start_, length_;
  const std::string format_;
  uint64_t pos_ = 0;
  uint64_t data_end_ = 0;  // where the data region at pos_ ends (rounded up)
  uint64_t prefetched_ = 0;  // data before it has been prefetched
  std::vector<char> buf_;
};

class ZeroReader : public ImageReader {
 public:
  explicit ZeroReader(uint64_t length) : length_(length) {}
  uint64_t capacity() const override { return length_; }
  std::string format() const override { return "zero"; }
  Status Next(ImageRun*, bool* end) override {
    *end = true;
    return Status::OK();
  }

 private:
  uint64_t length_;
};

}  // namespace

std::unique_ptr<ImageReader> NewFlatReader(std::unique_ptr<ByteSource> src, uint64_t start,
                                           uint64_t length, std::string format) {
  return std::make_unique<FlatReader>(std::move(src), start, length, std::move(format));
}

std::unique_ptr<ImageReader> NewZeroReader(uint64_t length) {
  return std::make_unique<ZeroReader>(length);
}

}  // namespace rpfs::fs
