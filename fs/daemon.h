// The FUSE daemon behind `rpfs mount`: shows a vault as the mount tree of
// DESIGN.md §2 until unmounted or signalled, then syncs and closes it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "catalog/vault.h"
#include "fs/control_socket.h"
#include "journal/status.h"

namespace rpfs::fs {

struct MountOptions {
  std::string vault_dir;
  // How the vault is opened; tools/ sets the passphrase of an encrypted
  // vault, read before the fork (no terminal after it).
  catalog::OpenOptions open;
  std::string mountpoint;
  bool foreground = false;
  std::vector<std::string> fuse_options;  // each passed as -o OPT
  unsigned max_threads = 16;
  // The kernel's readahead for the mount, in KiB (its bdi's read_ahead_kb;
  // FUSE starts at 128 and cannot ask for more in its init reply). 4 MiB:
  // a sequential reader then keeps several 1 MiB reads in flight, each
  // read by the daemon at queue depth > 1 (catalog/block_fetch.h). Set
  // where the daemon may (root); 0 leaves the kernel's.
  unsigned readahead_kib = 4096;
  // Background compaction (fs/background_compactor.h): a pass every
  // compact_every_s seconds (0: none), copying at most compact.rate_bytes_per_s.
  uint64_t compact_every_s = 60;
  // After each compaction pass, a defragmentation pass (Vault::Defragment)
  // over the extents not written for this long (0: none).
  uint64_t defrag_quiet_s = 600;
  catalog::CompactOptions compact;
  // Runs a forwarded CLI command against the daemon's vault (tools/ sets
  // it; fs/ does not know the CLI).
  std::function<ControlResponse(std::shared_ptr<catalog::Vault>, const ControlRequest&,
                                const ControlStream&)>
      control;
};

// Runs until unmount/SIGTERM. Without `foreground` it forks: the parent
// returns once the mount is up (or with the error that stopped it) and
// the child serves. Returns the daemon's final status in the foreground.
Status RunMount(const MountOptions& options);

}  // namespace rpfs::fs
