#include "fs/writable_descriptors.h"

#include <algorithm>
#include <cerrno>

#include "fs/vmdk/vmdk_descriptor.h"

namespace rpfs::fs {

std::string GeneratedDescriptor(const catalog::Disk& d) {
  DescriptorParams p;
  p.capacity_bytes = d.size;
  p.flat_file_name = d.name.substr(d.name.find('/') + 1) + "-flat.vmdk";
  p.cid = DescriptorCid(d.name, d.created_ns);
  return MonolithicFlatDescriptor(p);
}

std::string WritableDescriptors::Text(const catalog::Disk& disk, uint32_t branch) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = edited_.find(Key(disk.id, branch));
  return it == edited_.end() ? GeneratedDescriptor(disk) : it->second;
}

std::string& WritableDescriptors::TextLocked(const catalog::Disk& disk, uint32_t branch) {
  auto it = edited_.find(Key(disk.id, branch));
  if (it == edited_.end()) {
    it = edited_.emplace(Key(disk.id, branch), GeneratedDescriptor(disk)).first;
  }
  return it->second;
}

int WritableDescriptors::Write(const catalog::Disk& disk, uint32_t branch, uint64_t off,
                               const char* data, size_t n) {
  if (off > kMaxBytes || n > kMaxBytes - off) return EFBIG;
  std::lock_guard<std::mutex> l(mu_);
  std::string& text = TextLocked(disk, branch);
  if (text.size() < off + n) text.resize(off + n, '\0');
  text.replace(off, n, data, n);
  return 0;
}

void WritableDescriptors::Truncate(const catalog::Disk& disk, uint32_t branch, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  TextLocked(disk, branch).resize(static_cast<size_t>(std::min<uint64_t>(size, kMaxBytes)), '\0');
}

int WritableDescriptors::RevertIfBroken(const catalog::Disk& disk, uint32_t branch) {
  const std::string original = GeneratedDescriptor(disk);
  std::lock_guard<std::mutex> l(mu_);
  auto it = edited_.find(Key(disk.id, branch));
  if (it == edited_.end() || DescriptorKeepsExtent(original, it->second)) return 0;
  it->second = original;
  return EINVAL;
}

}  // namespace rpfs::fs
