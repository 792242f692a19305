#include "tools/images/grain_scan.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "journal/payload_codec.h"
#include "tools/images/data_runs.h"

namespace rpfs::tools {

Status ScanGrains(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                  uint64_t grain_bytes, const GrainFn& fn) {
  if (grain_bytes == 0 || grain_bytes % 512 != 0) {
    return Status::InvalidArgument("grain size " + std::to_string(grain_bytes) +
                                   " is not a positive multiple of 512");
  }
  std::string grain(grain_bytes, '\0');
  uint64_t current = UINT64_MAX;  // the grain in `grain`, if any
  bool dirty = false;             // `grain` holds bytes of `current`

  auto emit = [&]() -> Status {
    if (!dirty) return Status::OK();
    dirty = false;
    const uint64_t start = current * grain_bytes;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(grain_bytes, disk.size - start));
    if (journal::IsAllZero(grain.data(), len)) return Status::OK();
    return fn(current, grain.data(), len);
  };

  Status s = ScanDataRuns(vault, disk, view,
                          [&](uint64_t offset, const char* data, size_t n) -> Status {
    // A run may span several grains, and a grain several runs.
    uint64_t pos = offset;
    const uint64_t end = std::min(offset + n, disk.size);
    while (pos < end) {
      const uint64_t g = pos / grain_bytes;
      if (g != current && pos % grain_bytes == 0 && end - pos >= grain_bytes) {
        // A whole grain inside the run: hand it over without a copy.
        RPFS_RETURN_IF_ERROR(emit());
        const char* whole = data + (pos - offset);
        if (!journal::IsAllZero(whole, grain_bytes)) {
          RPFS_RETURN_IF_ERROR(fn(g, whole, grain_bytes));
        }
        pos += grain_bytes;
        continue;
      }
      if (g != current) {
        RPFS_RETURN_IF_ERROR(emit());
        if (current != UINT64_MAX) std::memset(grain.data(), 0, grain.size());
        current = g;
      }
      const uint64_t in_grain = pos - g * grain_bytes;
      const uint64_t take = std::min(end - pos, grain_bytes - in_grain);
      std::memcpy(grain.data() + in_grain, data + (pos - offset), take);
      dirty = true;
      pos += take;
    }
    return Status::OK();
  });
  RPFS_RETURN_IF_ERROR(s);
  return emit();
}

}  // namespace rpfs::tools
