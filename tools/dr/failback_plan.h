// What failback must send for a group that is failed over: per disk, the
// blocks where the on-premises copy (the failover branch's parent at its
// newest: the source as it was left) differs from the failover branch at
// the chosen seq. The union of what the source wrote after the fork and
// what the branch wrote since, from the change log: O(changed blocks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/vault.h"

namespace rpfs::tools {

struct FailbackSide {
  catalog::View on_prem;  // what the on-premises file holds now
  catalog::View target;   // what it must hold after failback
};

// The two views for a failed-over or reprotected group, target at `seq`.
Status FailbackViews(catalog::Vault& vault, const std::string& group, uint64_t seq,
                     FailbackSide* side);

// Sorted blocks of `disk` that failback writes.
Status FailbackBlocks(catalog::Vault& vault, uint32_t disk, const FailbackSide& side,
                      std::vector<uint64_t>* blocks);

struct FailbackPending {
  uint64_t blocks = 0;
  uint64_t bytes = 0;          // blocks x block size
  uint64_t disk_bytes = 0;     // the group's disks' total size
  uint64_t journal_bytes = 0;  // journal records holding that data (must be retained)
};

// What a failback to the branch's latest would send now.
Status MeasureFailbackPending(catalog::Vault& vault, const std::string& group,
                              FailbackPending* pending);

}  // namespace rpfs::tools
