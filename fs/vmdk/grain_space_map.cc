#include "fs/vmdk/grain_space_map.h"

#include <algorithm>

namespace rpfs::fs {

void GrainSpaceMap::AddMetadata(uint64_t offset, uint64_t bytes) {
  if (bytes == 0) return;
  uint64_t end = bytes > UINT64_MAX - offset ? UINT64_MAX : offset + bytes;
  metadata_.emplace_back(offset, end);
}

void GrainSpaceMap::Seal() {
  std::sort(metadata_.begin(), metadata_.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& r : metadata_) {
    if (!merged.empty() && r.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  metadata_ = std::move(merged);
}

bool GrainSpaceMap::IntersectsMetadata(uint64_t offset, uint64_t bytes) const {
  if (bytes == 0) return false;
  const uint64_t end = bytes > UINT64_MAX - offset ? UINT64_MAX : offset + bytes;
  // Sealed ranges are disjoint and sorted, so their ends are sorted too.
  auto it = std::partition_point(metadata_.begin(), metadata_.end(),
                                 [&](const auto& r) { return r.second <= offset; });
  return it != metadata_.end() && it->first < end;
}

bool GrainSpaceMap::SlotTaken(uint64_t slot) const {
  const uint64_t word = slot / 64;
  return word < slots_.size() && (slots_[word] >> (slot % 64) & 1) != 0;
}

Status GrainSpaceMap::ClaimGrain(uint64_t offset, const std::function<std::string()>& tag,
                                 bool* overlaps) {
  *overlaps = false;
  if (offset % grain_bytes_ != 0) {
    if (unaligned_.size() >= kMaxUnaligned) {
      return Status::InvalidArgument(tag() + ": more than " + std::to_string(kMaxUnaligned) +
                                     " grains not aligned to the grain size: unsupported");
    }
    unaligned_.push_back({offset, tag()});
    return Status::OK();
  }
  if (slots_.empty()) {
    const uint64_t slots = file_size_ / grain_bytes_ + 1;
    if (slots > kMaxSlots) {
      return Status::InvalidArgument(tag() + ": the file has " + std::to_string(slots) +
                                     " grain slots, more than the " +
                                     std::to_string(kMaxSlots) + " we can check");
    }
    slots_.assign(static_cast<size_t>((slots + 63) / 64), 0);
  }
  const uint64_t slot = offset / grain_bytes_;
  if (SlotTaken(slot)) {
    *overlaps = true;
    return Status::OK();
  }
  if (slot / 64 < slots_.size()) slots_[slot / 64] |= uint64_t{1} << (slot % 64);
  return Status::OK();
}

bool GrainSpaceMap::Finish(std::string* tag, uint64_t* offset) {
  std::sort(unaligned_.begin(), unaligned_.end(),
            [](const Unaligned& a, const Unaligned& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < unaligned_.size(); ++i) {
    const Unaligned& u = unaligned_[i];
    // It straddles two slots; an aligned grain in either overlaps it.
    const uint64_t slot = u.offset / grain_bytes_;
    bool bad = SlotTaken(slot) || SlotTaken(slot + 1);
    if (!bad && i + 1 < unaligned_.size()) bad = unaligned_[i + 1].offset - u.offset < grain_bytes_;
    if (bad) {
      *tag = u.tag;
      *offset = u.offset;
      return false;
    }
  }
  return true;
}

}  // namespace rpfs::fs
