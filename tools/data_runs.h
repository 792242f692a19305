// Vault::ScanData with read-ahead: a reader thread walks the view's data
// blocks (index walk, journal reads, checksum, decompression) while the
// calling thread consumes what was already read, so reading the vault and
// writing an image overlap on two cores.
//
// ScanDataRuns calls fn(offset, data, len) on the calling thread for every
// run of adjacent data blocks, in disk order; a run is at most 1 MiB, so a
// long stretch of data arrives as several runs. Never-written and zero
// blocks are skipped (Vault::ScanData). Memory: at most 8 runs (8 MiB).
// If fn fails, the reader stops and that Status is returned; a read error
// is returned once the runs before it were consumed.
#pragma once

#include <cstdint>
#include <functional>

#include "catalog/vault.h"

namespace rpfs::tools {

using DataRunFn = std::function<Status(uint64_t offset, const char* data, size_t len)>;

Status ScanDataRuns(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                    const DataRunFn& fn);

}  // namespace rpfs::tools
