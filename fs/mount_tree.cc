#include "fs/mount_tree.h"

#include <cerrno>

#include "catalog/time_format.h"

namespace rpfs::fs {
namespace {

constexpr uint64_t kRootIno = 1;

bool AllDigits(const std::string& s) {
  return !s.empty() && s.size() <= 19 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string VmOf(const std::string& disk_name) { return disk_name.substr(0, disk_name.find('/')); }
std::string LeafOf(const std::string& disk_name) {
  return disk_name.substr(disk_name.find('/') + 1);
}

// The newest point of a kind across all groups (points/latest-*).
bool NewestPoint(const catalog::Vault& v, const std::string& kind, catalog::Point* out) {
  auto points = v.ListPoints("");
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    if (it->kind == kind) {
      *out = *it;
      return true;
    }
  }
  return false;
}

}  // namespace

int ErrnoFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return 0;
    case Status::Code::kNotFound: return ENOENT;
    case Status::Code::kInvalidArgument: return EINVAL;
    case Status::Code::kAlreadyExists: return EEXIST;
    case Status::Code::kBusy: return EBUSY;
    case Status::Code::kNoSpace: return ENOSPC;
    case Status::Code::kReadOnly: return EROFS;
    case Status::Code::kCorruption:
    case Status::Code::kIOError:
    case Status::Code::kInternal: return EIO;
  }
  return EIO;
}

MountTree::MountTree(std::shared_ptr<catalog::Vault> vault) : vault_(std::move(vault)) {
  Entry root;
  root.node.kind = NodeKind::kRoot;
  root.node.path = std::string(1, '/');  // (not = "/": GCC 12 -Wrestrict false positive under ASan)
  root.nlookup = 1;  // never forgotten
  by_ino_[kRootIno] = root;
  by_path_["/"] = kRootIno;
}

std::vector<catalog::Disk> MountTree::DisksOf(const Node& dir) const {
  std::vector<catalog::Disk> out;
  for (const catalog::Disk& d : vault_->ListDisks()) {
    if (!dir.group.empty() && d.group != dir.group) continue;
    if (!dir.vm.empty() && VmOf(d.name) != dir.vm) continue;
    out.push_back(d);
  }
  return out;
}

int MountTree::Child(const Node& parent, const std::string& name, Node* c) const {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return ENOENT;
  }
  if (Gone(parent)) return ENOENT;
  *c = Node();
  c->path = (parent.path == "/" ? "" : parent.path) + "/" + name;
  c->view_spec = parent.view_spec;
  c->branch = parent.branch;
  c->group = parent.group;
  c->time_ns = parent.time_ns;
  switch (parent.kind) {
    case NodeKind::kRoot:
      if (name == "disks") c->kind = NodeKind::kDisksDir;
      else if (name == "points") c->kind = NodeKind::kPointsDir;
      else if (name == "at") c->kind = NodeKind::kAtDir;
      else if (name == "branches") c->kind = NodeKind::kBranchesDir;
      else return ENOENT;
      return 0;
    case NodeKind::kPointsDir: {
      catalog::Point p;
      if (name == "latest-app" || name == "latest-crash") {
        if (!NewestPoint(*vault_, name == "latest-app" ? "app" : "crash", &p)) return ENOENT;
        c->kind = NodeKind::kSymlink;
        c->target = std::to_string(p.id);
        c->time_ns = p.time_ns;
        // The target moves as points are taken: give each target its own node.
        c->path += "@" + c->target;
        return 0;
      }
      if (!AllDigits(name)) return ENOENT;
      bool found = false;
      for (const catalog::Point& q : vault_->ListPoints("")) {
        if (std::to_string(q.id) == name) {
          p = q;
          found = true;
        }
      }
      if (!found) return ENOENT;
      c->kind = NodeKind::kViewDir;
      c->view_spec = name;
      c->group = p.group;
      c->time_ns = p.time_ns;
      return 0;
    }
    case NodeKind::kAtDir: {
      std::string spec = name[0] == '#' ? name : "@" + name;
      if (spec[0] == '#') {
        if (!AllDigits(spec.substr(1))) return ENOENT;
      } else {
        uint64_t t;
        if (!catalog::ParseRfc3339(name, &t).ok()) return ENOENT;
        c->time_ns = t;
      }
      c->kind = NodeKind::kViewDir;
      c->view_spec = spec;
      return 0;
    }
    case NodeKind::kDisksDir:
    case NodeKind::kViewDir: {
      Node probe = parent;
      probe.vm = name;
      if (DisksOf(probe).empty()) return ENOENT;
      c->kind = NodeKind::kVmDir;
      c->vm = name;
      return 0;
    }
    case NodeKind::kVmDir: {
      for (const catalog::Disk& d : DisksOf(parent)) {
        std::string leaf = LeafOf(d.name);
        if (name == leaf + ".vmdk" || name == leaf + "-flat.vmdk") {
          c->kind = name == leaf + ".vmdk" ? NodeKind::kDescriptor : NodeKind::kFlat;
          c->vm = parent.vm;
          c->disk = d.id;
          return 0;
        }
      }
      return ENOENT;
    }
    case NodeKind::kBranchesDir: {
      // Branch 1 belongs to no group: disks/ and points/ show it.
      catalog::Branch b;
      if (!vault_->FindBranch(name, &b).ok() || b.group.empty()) return ENOENT;
      c->kind = NodeKind::kViewDir;
      c->branch = b.id;
      c->group = b.group;
      c->time_ns = b.created_ns;
      // A cleaned-up name may be reused: the id keeps their inodes apart.
      c->path += '@';  // two appends: GCC 12 at -O3 misreads "@" + string (-Wrestrict)
      c->path += std::to_string(b.id);
      return 0;
    }
    case NodeKind::kDescriptor:
    case NodeKind::kFlat:
    case NodeKind::kSymlink:
      return ENOENT;
  }
  return ENOENT;
}

int MountTree::Lookup(uint64_t parent, const std::string& name, uint64_t* ino, Node* node) {
  Node p;
  if (int err = Get(parent, &p)) return err;
  if (!p.is_dir()) return ENOTDIR;
  Node c;
  if (int err = Child(p, name, &c)) return err;
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_path_.find(c.path);
  if (it == by_path_.end()) {
    uint64_t n = next_ino_++;
    by_path_[c.path] = n;
    by_ino_[n] = Entry{c, 0};
    it = by_path_.find(c.path);
  }
  Entry& e = by_ino_[it->second];
  e.node = c;  // refresh (e.g. a symlink's target)
  e.nlookup++;
  *ino = it->second;
  *node = c;
  return 0;
}

void MountTree::Forget(uint64_t ino, uint64_t nlookup) {
  if (ino == kRootIno) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return;
  if (it->second.nlookup <= nlookup) {
    by_path_.erase(it->second.node.path);
    by_ino_.erase(it);
  } else {
    it->second.nlookup -= nlookup;
  }
}

int MountTree::Get(uint64_t ino, Node* node) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return ESTALE;
  *node = it->second.node;
  return 0;
}

int MountTree::List(const Node& dir, std::vector<DirEntry>* out) const {
  out->clear();
  if (Gone(dir)) return ENOENT;
  switch (dir.kind) {
    case NodeKind::kRoot:
      for (const char* n : {"disks", "points", "at", "branches"}) out->push_back({n, true, false});
      return 0;
    case NodeKind::kPointsDir: {
      catalog::Point p;
      for (const catalog::Point& q : vault_->ListPoints("")) {
        out->push_back({std::to_string(q.id), true, false});
      }
      if (NewestPoint(*vault_, "app", &p)) out->push_back({"latest-app", false, true});
      if (NewestPoint(*vault_, "crash", &p)) out->push_back({"latest-crash", false, true});
      return 0;
    }
    case NodeKind::kAtDir:  // looked up on access, never listed
      return 0;
    case NodeKind::kBranchesDir:
      for (const catalog::Branch& b : vault_->ListBranches()) {
        if (!b.group.empty()) out->push_back({b.name, true, false});
      }
      return 0;
    case NodeKind::kDisksDir:
    case NodeKind::kViewDir: {
      std::vector<std::string> vms;
      for (const catalog::Disk& d : DisksOf(dir)) {
        std::string vm = VmOf(d.name);
        if (std::find(vms.begin(), vms.end(), vm) == vms.end()) vms.push_back(vm);
      }
      for (auto& vm : vms) out->push_back({vm, true, false});
      return 0;
    }
    case NodeKind::kVmDir:
      for (const catalog::Disk& d : DisksOf(dir)) {
        out->push_back({LeafOf(d.name) + ".vmdk", false, false});
        out->push_back({LeafOf(d.name) + "-flat.vmdk", false, false});
      }
      return 0;
    default:
      return ENOTDIR;
  }
}

int MountTree::ResolveView(const Node& file, catalog::View* view) const {
  catalog::Disk disk;
  bool found = false;
  for (const catalog::Disk& d : vault_->ListDisks()) {
    if (d.id == file.disk) {
      disk = d;
      found = true;
    }
  }
  if (!found || Gone(file)) return ENOENT;
  if (file.branch != 0) {
    *view = catalog::View{file.branch, catalog::kMaxSeq};
    return 0;
  }
  if (file.view_spec.empty()) {
    *view = vault_->Latest(disk);
    return 0;
  }
  std::string what;
  Status s = vault_->ResolveView(disk, file.view_spec, view, &what);
  return s.ok() ? 0 : ErrnoFor(s);
}

int MountTree::CheckWritable(const Node& node) const {
  if (node.is_dir()) return EISDIR;
  if (node.kind == NodeKind::kSymlink || node.frozen()) return EROFS;
  // disks/ follows the group's active branch, which takes writes.
  if (node.branch == 0) return 0;
  return ErrnoFor(vault_->CheckWritable(node.disk, node.branch));
}

bool MountTree::Gone(const Node& node) const {
  if (node.branch == 0) return false;
  catalog::Branch b;
  return !vault_->GetBranch(node.branch, &b).ok() || b.deleted_ns != 0;
}

}  // namespace rpfs::fs
