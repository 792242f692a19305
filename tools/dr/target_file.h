// TargetFile: one file of a failback target (tools/dr/failback_target.h),
// open read-write. It is also the fs::ByteSource the hostile-input readers
// of fs/ parse the file through, so every read is bounds-checked against
// the file's size, which grows as a sparse target appends grains.
//
// Writes, truncates and syncs call the test hook first; errors name the
// file, what was written and the offset. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fs/vmdk/byte_source.h"

namespace rpfs::tools {

class TargetFile : public fs::ByteSource {
 public:
  // Opens path O_RDWR (a regular file or block device); `name` is what
  // errors call it. A file we may not open is InvalidArgument.
  static Status Open(const std::string& path, const std::string& name,
                     std::unique_ptr<TargetFile>* out);
  ~TargetFile() override;

  uint64_t size() const override { return size_; }
  bool regular() const { return regular_; }

  // Exactly n bytes at offset; `what` names the structure for errors.
  // Writing past the end grows the file.
  Status WriteAt(uint64_t offset, const char* data, size_t n, std::string_view what);
  // Grows the file to `size` bytes (a hole); `what` as above.
  Status Extend(uint64_t size, std::string_view what);
  Status DataSync();

 protected:
  Status ReadRaw(uint64_t offset, size_t n, char* out) const override;

 private:
  TargetFile(std::string name, int fd, uint64_t size, bool regular)
      : ByteSource(std::move(name)), fd_(fd), size_(size), regular_(regular) {}

  int fd_;
  uint64_t size_;
  bool regular_;
};

// Calls the hook of SetFailbackTargetHookForTesting, if one is set.
void CallFailbackTargetHook(std::string_view what);

// A descriptor's text as qemu and VMware read it: up to the first NUL.
// qemu's CID rewrite ("%x", so it may get shorter) leaves the old text's
// last bytes after the NUL that ends the new one.
inline std::string_view DescriptorText(std::string_view area) {
  return area.substr(0, area.find('\0'));
}

// InvalidArgument unless [offset, offset + n) lies in a disk of disk_size
// bytes: "NAME: write of N bytes at offset O is past the end of the disk
// (S bytes)". `op` is "read" or "write".
Status CheckDiskRange(const std::string& name, uint64_t disk_size, uint64_t offset, size_t n,
                      std::string_view op);

}  // namespace rpfs::tools
