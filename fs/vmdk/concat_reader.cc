// A descriptor's extents read back to back as one disk.
#include "fs/vmdk/extent_readers.h"

namespace rpfs::fs {
namespace {

class ConcatReader : public ImageReader {
 public:
  ConcatReader(std::vector<ExtentPlan> extents, std::unique_ptr<ImageReader> first,
               std::string format)
      : extents_(std::move(extents)), current_(std::move(first)), format_(std::move(format)) {
    for (const ExtentPlan& e : extents_) capacity_ += e.length;
  }

  uint64_t capacity() const override { return capacity_; }
  std::string format() const override { return format_; }

  Status Next(ImageRun* run, bool* end) override {
    size_t room_bytes;
    char* const room = TakeRoom(&room_bytes);
    while (index_ < extents_.size()) {
      const ExtentPlan& e = extents_[index_];
      if (!current_) RPFS_RETURN_IF_ERROR(e.open(&current_));
      if (room != nullptr) current_->OfferRoom(room, room_bytes);
      bool done;
      RPFS_RETURN_IF_ERROR(current_->Next(run, &done));
      if (!done) {
        // Readers keep to their capacity, which OpenImage matched to the
        // extent's length; this guards the sum against a changed file.
        if (run->offset > e.length || run->size > e.length - run->offset) {
          return Status::Corruption("extent " + std::to_string(index_) +
                                    " returned data past its length");
        }
        run->offset += e.disk_offset;
        *end = false;
        return Status::OK();
      }
      current_.reset();
      ++index_;
    }
    *end = true;
    return Status::OK();
  }

 private:
  std::vector<ExtentPlan> extents_;
  std::unique_ptr<ImageReader> current_;
  std::string format_;
  uint64_t capacity_ = 0;
  size_t index_ = 0;
};

}  // namespace

std::unique_ptr<ImageReader> NewConcatReader(std::vector<ExtentPlan> extents,
                                             std::unique_ptr<ImageReader> first,
                                             std::string format) {
  return std::make_unique<ConcatReader>(std::move(extents), std::move(first), std::move(format));
}

}  // namespace rpfs::fs
