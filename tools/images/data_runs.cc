#include "tools/images/data_runs.h"

#include "catalog/vault_scan.h"

namespace rpfs::tools {

Status ScanDataRuns(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                    const DataRunFn& fn, catalog::ScanWindow window) {
  const uint64_t bs = vault.block_size();
  return catalog::ScanBlockRuns(vault, disk.id, view,
                                [&](uint64_t first, const char* data, size_t blocks) {
                                  return fn(first * bs, data, blocks * bs);
                                },
                                window);
}

}  // namespace rpfs::tools
