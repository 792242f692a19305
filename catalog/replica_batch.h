// What replication hands the target vault to apply: write calls of the
// source vault, each one block record after another, with the payloads
// as the source stored them (zstd frame, stored block, or a zero flag).
// See Vault::ApplyReplicaBatch.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace rpfs::catalog {

struct ReplicaBlock {
  uint32_t disk = 0;    // this vault's disk id
  uint64_t block = 0;
  uint8_t flags = 0;    // journal::kZstd, journal::kZero or 0 (stored)
  std::string_view payload;  // valid while the batch is applied
};

// One source write call: its blocks share one seq here too.
struct ReplicaCall {
  uint64_t source_seq = 0;
  uint64_t time_ns = 0;  // the source's
  std::vector<ReplicaBlock> blocks;
};

}  // namespace rpfs::catalog
