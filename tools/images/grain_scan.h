// A disk view as a sequence of grains: fixed-size chunks of the disk (VMDK
// grains, 64 KiB by default) assembled from the vault's blocks (4 KiB by
// default, or bigger than a grain: both work).
//
// ScanGrains calls fn for every grain that holds a non-zero byte, in grain
// order, with the grain's bytes: blocks the view never wrote read as zeros,
// and grains that are all zeros (holes, zero blocks, blocks written with
// zeros) are skipped. Cost: Vault::ScanData (one index walk, a read per
// mapped block, on a read-ahead thread: ScanDataRuns) plus a copy and a zero
// test per grain; nothing per hole. Memory: one grain plus the read-ahead.
#pragma once

#include <cstdint>
#include <functional>

#include "catalog/vault.h"

namespace rpfs::tools {

// `data` holds grain_bytes bytes: the grain, zero-padded past the disk's end
// for the last grain, whose `len` (bytes inside the disk) may be shorter.
// `data` is only valid during the call.
using GrainFn = std::function<Status(uint64_t grain, const char* data, size_t len)>;

// grain_bytes: a positive multiple of 512.
Status ScanGrains(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                  uint64_t grain_bytes, const GrainFn& fn);

}  // namespace rpfs::tools
