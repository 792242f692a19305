// MountTree: the names of an rpfs mount (DESIGN.md §2) and the inodes
// the kernel holds for them. Knows nothing of FUSE: the ops in
// fuse_ops.cc translate; this decides what exists.
//
//   /disks/VM/DISK.vmdk, DISK-flat.vmdk          live, read-write
//   /points/ID/VM/...                            read-only, the point's disks
//   /points/latest-app, /points/latest-crash     symlinks to an ID
//   /at/<RFC3339 time>/VM/..., /at/#SEQ/VM/...   read-only, resolved on lookup
//   /branches/                                   (empty until failover)
//
// Every node has a canonical path; an inode is handed out once per path
// and lives until the kernel forgets it. Thread-safe.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/vault.h"

namespace rpfs::fs {

enum class NodeKind {
  kRoot,
  kDisksDir,
  kPointsDir,
  kAtDir,
  kBranchesDir,
  kViewDir,  // points/ID or at/SPEC
  kVmDir,
  kDescriptor,
  kFlat,
  kSymlink,
};

struct Node {
  NodeKind kind = NodeKind::kRoot;
  std::string path;       // canonical, the identity of the node
  std::string view_spec;  // "" = live; a point id, "@time" or "#seq" otherwise
  std::string group;      // points/ID: only this group's disks
  std::string vm;         // kVmDir and files
  uint32_t disk = 0;      // files
  std::string target;     // kSymlink
  uint64_t time_ns = 0;   // mtime shown for the node
  bool writable() const { return view_spec.empty() && (kind == NodeKind::kFlat || kind == NodeKind::kDescriptor); }
  bool is_dir() const { return kind != NodeKind::kDescriptor && kind != NodeKind::kFlat && kind != NodeKind::kSymlink; }
};

struct DirEntry {
  std::string name;
  bool is_dir;
  bool is_symlink;
};

class MountTree {
 public:
  // descriptor(disk) yields the descriptor text shown for a disk.
  MountTree(std::shared_ptr<catalog::Vault> vault);

  // Errors are errno values (0 = ok).
  int Lookup(uint64_t parent, const std::string& name, uint64_t* ino, Node* node);
  void Forget(uint64_t ino, uint64_t nlookup);
  int Get(uint64_t ino, Node* node) const;
  int List(const Node& dir, std::vector<DirEntry>* entries) const;
  // The view a file node reads; fails with ENOENT if it no longer resolves.
  int ResolveView(const Node& file, catalog::View* view) const;

 private:
  int Child(const Node& parent, const std::string& name, Node* child) const;
  std::vector<catalog::Disk> DisksOf(const Node& dir) const;

  std::shared_ptr<catalog::Vault> vault_;
  mutable std::mutex mu_;
  struct Entry {
    Node node;
    uint64_t nlookup = 0;
  };
  std::unordered_map<uint64_t, Entry> by_ino_;
  std::unordered_map<std::string, uint64_t> by_path_;
  uint64_t next_ino_ = 2;  // 1 is FUSE_ROOT_ID
};

int ErrnoFor(const Status& s);

}  // namespace rpfs::fs
