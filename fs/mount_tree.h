// MountTree: the names of an rpfs mount (DESIGN.md §2) and the inodes
// the kernel holds for them. Knows nothing of FUSE: the ops in
// fuse_ops.cc translate; this decides what exists.
//
//   /disks/VM/DISK.vmdk, DISK-flat.vmdk          live, read-write
//   /points/ID/VM/...                            read-only, the point's disks
//   /points/latest-app, /points/latest-crash     symlinks to an ID
//   /at/<RFC3339 time>/VM/..., /at/#SEQ/VM/...   read-only, resolved on lookup
//   /branches/NAME/VM/...                        a branch's latest state:
//                                                read-write while the vault
//                                                lets the disk write there
//
// disks/ shows each group's active branch (it moves at failover). A
// branch node names its branch by id: a cleaned-up branch is gone (ENOENT)
// even where the kernel still holds its inodes, and a later branch of the
// same name gets new ones. Every node has a canonical path; an inode is
// handed out once per path and lives until the kernel forgets it.
// Thread-safe.
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
  kViewDir,  // points/ID, at/SPEC or branches/NAME
  kVmDir,
  kDescriptor,
  kFlat,
  kSymlink,
};

struct Node {
  NodeKind kind = NodeKind::kRoot;
  std::string path;       // canonical, the identity of the node
  std::string view_spec;  // "" = live; a point id, "@time" or "#seq" otherwise
  uint32_t branch = 0;    // branches/NAME and below (view_spec ""); 0 = disks/
  std::string group;      // points/ID, branches/NAME: only this group's disks
  std::string vm;         // kVmDir and files
  uint32_t disk = 0;      // files
  std::string target;     // kSymlink
  uint64_t time_ns = 0;   // mtime shown for the node
  // A point or instant: its bytes never change (the kernel may cache them).
  bool frozen() const { return !view_spec.empty(); }
  bool is_dir() const { return kind != NodeKind::kDescriptor && kind != NodeKind::kFlat && kind != NodeKind::kSymlink; }
};

struct DirEntry {
  std::string name;
  bool is_dir;
  bool is_symlink;
};

class MountTree {
 public:
  MountTree(std::shared_ptr<catalog::Vault> vault);

  // Errors are errno values (0 = ok).
  int Lookup(uint64_t parent, const std::string& name, uint64_t* ino, Node* node);
  void Forget(uint64_t ino, uint64_t nlookup);
  int Get(uint64_t ino, Node* node) const;
  int List(const Node& dir, std::vector<DirEntry>* entries) const;
  // The view a file node reads; fails with ENOENT if it no longer resolves.
  int ResolveView(const Node& file, catalog::View* view) const;
  // 0 if the file takes writes now: EROFS for frozen views and closed
  // branches, ENOENT for a cleaned-up one, EISDIR for directories.
  int CheckWritable(const Node& node) const;
  // True if the node belongs to a branch that was cleaned up.
  bool Gone(const Node& node) const;

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
