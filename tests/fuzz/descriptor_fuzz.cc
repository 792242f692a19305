// libFuzzer target: fs/vmdk_descriptor_parser on arbitrary text. Besides
// crashes and sanitizer reports, a parse that succeeds must keep the
// parser's promises (checked with __builtin_trap so the fuzzer reports it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fs/vmdk/vmdk_descriptor_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rpfs::fs::VmdkDescriptor d;
  rpfs::Status s = rpfs::fs::ParseVmdkDescriptor(text, "fuzz.vmdk", 512, &d);
  if (!s.ok()) {
    if (s.message().empty() || s.message().find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  uint64_t sum = 0;
  for (const auto& e : d.extents) {
    if (e.sectors == 0 || e.sectors > rpfs::fs::kMaxDescriptorSectors) __builtin_trap();
    if (e.file.empty() != (e.type == rpfs::fs::ExtentType::kZero)) __builtin_trap();
    if (e.line == 0 || e.line_offset < 512 || e.line_offset >= 512 + size) __builtin_trap();
    sum += e.sectors;
  }
  if (d.extents.empty() || sum != d.total_sectors || sum > rpfs::fs::kMaxDescriptorSectors ||
      d.version < 1 || d.version > 3 || d.create_type.empty()) {
    __builtin_trap();
  }
  return 0;
}
