// The FUSE low-level operations of an rpfs mount, one function per op
// (as libfuse's passthrough_hp.cc), registered in one table.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <memory>

#include "catalog/vault.h"
#include "fs/mount_tree.h"
#include "fs/read_ahead.h"
#include "fs/writable_descriptors.h"

namespace rpfs::fs {

// Everything the ops share: the vault, the tree, the descriptors of
// writable files (which QEMU rewrites: kept per disk and branch while
// mounted) and the readahead for O_DIRECT handles.
struct FuseState {
  explicit FuseState(std::shared_ptr<catalog::Vault> v) : vault(v), tree(v), read_ahead(v) {}
  std::shared_ptr<catalog::Vault> vault;
  MountTree tree;
  WritableDescriptors descriptors;
  ReadAhead read_ahead;
};

const fuse_lowlevel_ops& RpfsFuseOps();

}  // namespace rpfs::fs
