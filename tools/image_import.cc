#include "tools/image_import.h"

#include <algorithm>
#include <string>

#include "journal/payload_codec.h"

namespace rpfs::tools {
namespace {

// Gathers contiguous runs; Flush() writes their non-zero blocks.
class WriteBatcher {
 public:
  WriteBatcher(catalog::Vault& vault, const catalog::Disk& disk, ImportResult* result)
      : vault_(vault), disk_(disk), result_(result), bs_(vault.block_size()) {
    buf_.reserve(kImportWriteBytes);
  }

  Status Add(const fs::ImageRun& run) {
    size_t done = 0;
    while (done < run.size) {
      const uint64_t at = run.offset + done;
      if (!buf_.empty() && (at != start_ + buf_.size() || buf_.size() >= kImportWriteBytes)) {
        RPFS_RETURN_IF_ERROR(Flush());
      }
      if (buf_.empty()) start_ = at;
      size_t n = std::min(run.size - done, kImportWriteBytes - buf_.size());
      buf_.append(run.data + done, n);
      done += n;
    }
    return Status::OK();
  }

  // Writes the stretches of the buffer that are not whole zero blocks.
  // Blocks are the vault's, on absolute boundaries; a partial block at
  // either end is written as is (the vault merges it).
  Status Flush() {
    const uint64_t end = start_ + buf_.size();
    uint64_t pos = start_;
    uint64_t write_from = 0;
    bool in_write = false;
    auto emit = [&](uint64_t to) -> Status {
      if (!in_write) return Status::OK();
      in_write = false;
      result_->data_bytes += to - write_from;
      return vault_.Write(disk_.id, write_from, buf_.data() + (write_from - start_),
                          static_cast<size_t>(to - write_from));
    };
    while (pos < end) {
      const uint64_t piece_end = std::min(end, (pos / bs_ + 1) * bs_);
      const bool zero = journal::IsAllZero(buf_.data() + (pos - start_),
                                           static_cast<size_t>(piece_end - pos));
      if (zero) {
        RPFS_RETURN_IF_ERROR(emit(pos));
      } else if (!in_write) {
        in_write = true;
        write_from = pos;
      }
      pos = piece_end;
    }
    RPFS_RETURN_IF_ERROR(emit(end));
    buf_.clear();
    return Status::OK();
  }

 private:
  catalog::Vault& vault_;
  const catalog::Disk& disk_;
  ImportResult* result_;
  const uint64_t bs_;
  uint64_t start_ = 0;
  std::string buf_;
};

}  // namespace

Status AsInputError(const Status& s) {
  if (s.code() == Status::Code::kCorruption) return Status::InvalidArgument(s.message());
  return s;
}

Status ImportImage(catalog::Vault& vault, const catalog::Disk& disk, fs::ImageReader& image,
                   ImportResult* result,
                   const std::function<void(uint64_t, uint64_t)>& progress) {
  *result = ImportResult();
  WriteBatcher batch(vault, disk, result);
  const uint64_t capacity = image.capacity();
  for (;;) {
    fs::ImageRun run;
    bool end;
    RPFS_RETURN_IF_ERROR(AsInputError(image.Next(&run, &end)));
    if (end) break;
    if (run.offset > disk.size || run.size > disk.size - run.offset) {
      return Status::Internal("image run at " + std::to_string(run.offset) +
                              " is past the end of disk " + disk.name);
    }
    RPFS_RETURN_IF_ERROR(batch.Add(run));
    if (progress) progress(run.offset + run.size, capacity);
  }
  RPFS_RETURN_IF_ERROR(batch.Flush());
  return vault.Sync();
}

}  // namespace rpfs::tools
