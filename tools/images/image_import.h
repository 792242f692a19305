// `rpfs disk import`: streams an image (fs/vmdk/image_reader.h) into a disk
// just created with the image's capacity.
//
// A reader thread gathers the image's runs into batches of up to
// kImportWriteBytes (1 MiB) and finds their all-zero blocks, which are not
// stored (a new disk reads them as zeros), so holes and zero grains cost
// nothing. Meanwhile one encoder thread per core encodes a batch each
// (zero tests and compression, Vault::EncodeWrite, into room the batch
// carries), and the calling thread appends the encoded batches in order
// (Vault::WriteEncoded) and reports progress. Memory: the batches in
// flight (at most 8, each 1 MiB of data and up to as much compressed)
// plus the reader's buffers.
#pragma once

#include <cstdint>
#include <functional>

#include "catalog/vault.h"
#include "fs/vmdk/image_reader.h"

namespace rpfs::tools {

constexpr size_t kImportWriteBytes = size_t{1} << 20;

struct ImportResult {
  uint64_t data_bytes = 0;  // bytes written to the vault (non-zero blocks)
};

// Reads every run of `image` into `disk` and syncs. The image's errors
// come back as InvalidArgument (a bad input file is the user's error,
// exit 1, not vault corruption); the vault's as they are. `progress` gets
// the disk offset reached and the capacity.
Status ImportImage(catalog::Vault& vault, const catalog::Disk& disk, fs::ImageReader& image,
                   ImportResult* result,
                   const std::function<void(uint64_t, uint64_t)>& progress);

// A malformed-image Status as the user's error (Corruption -> InvalidArgument).
Status AsInputError(const Status& s);

}  // namespace rpfs::tools
