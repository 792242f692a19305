// A disk view's data blocks as runs of bytes, read ahead of the caller:
// catalog::ScanBlockRuns (catalog/vault_scan.h) walks the index, reads the
// records in batches and decodes them on every core on its own thread while
// the calling thread consumes the batch before, so reading the vault and
// writing an image overlap.
//
// ScanDataRuns calls fn(offset, data, len) on the calling thread for every
// run of adjacent data blocks, in disk order; a run is at most 4 MiB (one
// batch; or one block, if blocks are bigger), so a long stretch of data
// arrives as several runs. `data` is valid during the call only.
// Never-written and zero blocks are skipped. Memory: three batches. If fn
// fails, the scan stops and that Status is returned; a read error is
// returned once the runs before it were consumed.
#pragma once

#include <cstdint>
#include <functional>

#include "catalog/vault.h"
#include "catalog/vault_scan.h"

namespace rpfs::tools {

using DataRunFn = std::function<Status(uint64_t offset, const char* data, size_t len)>;

// window: how far it reads ahead (catalog/vault_scan.h); runs are then up
// to the window's batch size.
Status ScanDataRuns(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                    const DataRunFn& fn,
                    catalog::ScanWindow window = catalog::ScanWindow::kNarrow);

}  // namespace rpfs::tools
