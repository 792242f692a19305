// Batched reads of a disk's data blocks: what Vault::ScanData and the
// exports (tools/images/data_runs.h) stand on.
//
// ScanBlockRuns walks the index once (BlockMap::Scan: one LMDB snapshot)
// on a thread of its own and gathers the versions it finds into batches of
// up to 4 MiB of blocks. A batch's records are read all at once, one read
// per stretch of nearby records in a segment file, and checked and decoded
// on every core (catalog/block_fetch.h). Meanwhile the calling thread gets the
// batch before: fn is called there with its runs of adjacent blocks, in
// block order. Never-written and zero blocks are skipped.
//
// Every record gets the checks Vault::ReadBlock makes (CheckBlockRecord,
// DecodeBlockPayload below). A record that fails any of them is read once
// more on its own by Vault::ReadBlock; if that fails too, the scan stops
// with its error prefixed by the disk and block, e.g.
//
//   disk vm/d0 block 1234: segment 00000002.seg offset 8192: record checksum mismatch
//
// after fn has had every block before that one. Never wrong bytes.
//
// Snapshot: "latest" is pinned to the vault's last seq when the scan
// starts, and the index is flushed so LMDB holds all of it. Cost: one index
// seek per mapped block and branch level, one read per stretch, the
// decoding spread over the cores. Memory: three batches plus one batch of
// raw records.
// If fn fails, the scan stops and fn's Status is returned.
#pragma once

#include <cstdint>
#include <functional>

#include "catalog/vault.h"

namespace rpfs::catalog {

// `blocks` adjacent blocks from first_block on, block_size bytes each;
// `data` is valid during the call only.
using BlockRunFn = std::function<Status(uint64_t first_block, const char* data, size_t blocks)>;

// How far the scan reads ahead. kNarrow: batches of 4 MiB of blocks,
// three in the pipe. kWide: batches of 32 MiB, two (64 MiB of memory), for
// a scan of a whole disk that may have been written randomly (an export):
// a batch's records, sorted by location, then lie close enough in the
// journal for its stretches to join into longer reads. Measured, raw export
// of a 512 MiB disk written randomly, cold: narrow 4.3 s, wide 32 MiB
// 3.3 s, 128 MiB 3.3-3.6 s, 512 MiB (one batch) 2.85 s.
enum class ScanWindow { kNarrow, kWide };

Status ScanBlockRuns(Vault& vault, uint32_t disk, View view, const BlockRunFn& fn,
                     ScanWindow window = ScanWindow::kNarrow);

// The checks every read of a block version makes once it has the record
// (its crc already matched): the record is the block version the index
// names. Errors are Corruption naming the record's segment and offset.
Status CheckBlockRecord(const journal::RecordHeader& h, uint32_t disk, uint64_t block,
                        const FoundBlock& found, uint64_t block_size);

// Decodes the payload of a record that passed CheckBlockRecord into one
// block at out; Corruption naming the segment and offset if it does not.
Status DecodeBlockPayload(const journal::RecordHeader& h, const char* payload,
                          const FoundBlock& found, char* out, uint64_t block_size);

}  // namespace rpfs::catalog
