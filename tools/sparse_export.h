// Export of a disk view as a sparse raw image: only blocks that hold data
// are written; everything else stays a hole. Cost: one index seek per
// mapped block plus its read, nothing per hole.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "catalog/vault.h"

namespace rpfs::tools {

struct ExportResult {
  uint64_t data_bytes = 0;  // bytes written (blocks holding data)
};

Status ExportRaw(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                 const std::string& out_path, ExportResult* result,
                 const std::function<void(uint64_t done, uint64_t total)>& progress = nullptr);

}  // namespace rpfs::tools
