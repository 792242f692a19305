// The FUSE low-level operations of an rpfs mount, one function per op
// (as libfuse's passthrough_hp.cc), registered in one table.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "catalog/vault.h"
#include "fs/mount_tree.h"

namespace rpfs::fs {

// Everything the ops share: the vault, the tree and the live descriptors
// (which QEMU rewrites: kept per disk while mounted).
struct FuseState {
  explicit FuseState(std::shared_ptr<catalog::Vault> v) : vault(v), tree(v) {}
  std::shared_ptr<catalog::Vault> vault;
  MountTree tree;
  std::mutex descriptors_mu;
  std::map<uint32_t, std::string> live_descriptors;
};

const fuse_lowlevel_ops& RpfsFuseOps();

}  // namespace rpfs::fs
