#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace rpfs::fs {
namespace {

// What a read-only tree shows never changes, so the kernel may keep its
// attributes a while; live trees change (a new point, a new disk), and
// every name may go (an expired point, a cleaned-up branch), so names are
// kept briefly everywhere.
constexpr double kLiveTimeout = 1.0;
constexpr double kFrozenTimeout = 30.0;

FuseState& State(fuse_req_t req) { return *static_cast<FuseState*>(fuse_req_userdata(req)); }

struct OpenFile {
  Node node;
  catalog::View view;
  catalog::Disk disk;
  // Opened O_DIRECT: the kernel reads nothing ahead, the daemon does.
  std::unique_ptr<ReadAhead::Stream> read_ahead;
};

// The descriptor text a node shows: disks/ and branch ones may have been
// rewritten.
std::string DescriptorText(FuseState& st, const catalog::Disk& d, const Node& node) {
  return node.frozen() ? GeneratedDescriptor(d) : st.descriptors.Text(d, node.branch);
}

// An inode or open handle of a cleaned-up branch: the file is gone under
// it. (stat(2) of its path then looks the name up again: ENOENT.)
constexpr int kGoneErrno = ESTALE;

int MakeAttr(FuseState& st, uint64_t ino, const Node& node, struct stat* a) {
  if (st.tree.Gone(node)) return kGoneErrno;
  std::memset(a, 0, sizeof *a);
  a->st_ino = ino;
  a->st_nlink = 1;
  a->st_uid = ::getuid();
  a->st_gid = ::getgid();
  a->st_blksize = st.vault->block_size();
  uint64_t t = node.time_ns ? node.time_ns : st.vault->meta().created_ns;
  a->st_mtim.tv_sec = a->st_ctim.tv_sec = a->st_atim.tv_sec = static_cast<time_t>(t / 1000000000);
  a->st_mtim.tv_nsec = a->st_ctim.tv_nsec = a->st_atim.tv_nsec = static_cast<long>(t % 1000000000);
  if (node.is_dir()) {
    a->st_mode = S_IFDIR | (node.kind == NodeKind::kRoot || node.kind == NodeKind::kDisksDir ? 0755 : 0555);
    a->st_nlink = 2;
    return 0;
  }
  if (node.kind == NodeKind::kSymlink) {
    a->st_mode = S_IFLNK | 0777;
    a->st_size = static_cast<off_t>(node.target.size());
    return 0;
  }
  catalog::Disk d;
  Status s = st.vault->GetDisk(node.disk, &d);
  if (!s.ok()) return ErrnoFor(s);
  a->st_mode = S_IFREG | (st.tree.CheckWritable(node) == 0 ? 0644 : 0444);
  a->st_size = static_cast<off_t>(node.kind == NodeKind::kFlat ? d.size
                                                                : DescriptorText(st, d, node).size());
  a->st_blocks = (a->st_size + 511) / 512;
  return 0;
}

// Attribute timeout. Branches are live too: they take writes and close.
double TimeoutFor(const Node& node) {
  return node.view_spec.empty() || node.view_spec[0] == '@' ? kLiveTimeout : kFrozenTimeout;
}

void ReplyEntry(fuse_req_t req, uint64_t ino, const Node& node) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  if (int err = MakeAttr(State(req), ino, node, &e.attr)) {
    fuse_reply_err(req, err);
    return;
  }
  e.ino = ino;
  e.attr_timeout = TimeoutFor(node);
  e.entry_timeout = kLiveTimeout;
  fuse_reply_entry(req, &e);
}

void RpfsInit(void*, fuse_conn_info* conn) {
  conn->max_write = 1u << 20;
  // The kernel takes the smaller of this and the mount's read_ahead_kb,
  // which the daemon raises (fs/daemon.h, readahead_kib).
  conn->max_readahead = 4u << 20;
  // Writes must reach the journal before they are acknowledged.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
}

void RpfsLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  uint64_t ino;
  Node node;
  if (int err = State(req).tree.Lookup(parent, name, &ino, &node)) {
    fuse_reply_err(req, err);
    return;
  }
  ReplyEntry(req, ino, node);
}

void RpfsForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  State(req).tree.Forget(ino, nlookup);
  fuse_reply_none(req);
}

void RpfsForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) State(req).tree.Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void RpfsGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Node node;
  struct stat a;
  int err = State(req).tree.Get(ino, &node);
  if (err == 0) err = MakeAttr(State(req), ino, node, &a);
  if (err) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_attr(req, &a, TimeoutFor(node));
}

void RpfsSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  FuseState& st = State(req);
  Node node;
  if (int err = st.tree.Get(ino, &node)) {
    fuse_reply_err(req, err);
    return;
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (int err = st.tree.CheckWritable(node)) {
      fuse_reply_err(req, err);
      return;
    }
    catalog::Disk d;
    if (!st.vault->GetDisk(node.disk, &d).ok()) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (node.kind == NodeKind::kFlat) {
      // A disk does not change size by truncation.
      if (static_cast<uint64_t>(attr->st_size) != d.size) {
        fuse_reply_err(req, EPERM);
        return;
      }
    } else {
      st.descriptors.Truncate(d, node.branch,
                              static_cast<uint64_t>(std::max<off_t>(attr->st_size, 0)));
    }
  }
  // Mode, owner and times are fixed by the tree; report what they are.
  struct stat a;
  if (int err = MakeAttr(st, ino, node, &a)) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_attr(req, &a, TimeoutFor(node));
}

void RpfsReadlink(fuse_req_t req, fuse_ino_t ino) {
  Node node;
  if (int err = State(req).tree.Get(ino, &node)) {
    fuse_reply_err(req, err);
    return;
  }
  if (node.kind != NodeKind::kSymlink) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  fuse_reply_readlink(req, node.target.c_str());
}

struct DirListing {
  std::vector<DirEntry> entries;
};

void RpfsOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Node node;
  auto listing = std::make_unique<DirListing>();
  int err = State(req).tree.Get(ino, &node);
  if (err == 0) err = node.is_dir() ? State(req).tree.List(node, &listing->entries) : ENOTDIR;
  if (err) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(listing.release());
  fuse_reply_open(req, fi);
}

void RpfsReaddir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  auto* listing = reinterpret_cast<DirListing*>(fi->fh);
  std::string buf(size, '\0');
  size_t used = 0;
  for (size_t i = static_cast<size_t>(off); i < listing->entries.size(); ++i) {
    const DirEntry& e = listing->entries[i];
    struct stat a;
    std::memset(&a, 0, sizeof a);
    a.st_mode = e.is_dir ? S_IFDIR : (e.is_symlink ? S_IFLNK : S_IFREG);
    a.st_ino = i + 2;  // never 0: readdir(3) hides entries with inode 0
    size_t n = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &a,
                                 static_cast<off_t>(i + 1));
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void RpfsReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<DirListing*>(fi->fh);
  fuse_reply_err(req, 0);
}

void RpfsOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseState& st = State(req);
  auto f = std::make_unique<OpenFile>();
  if (int err = st.tree.Get(ino, &f->node)) {
    fuse_reply_err(req, err);
    return;
  }
  if (f->node.is_dir()) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    if (int err = st.tree.CheckWritable(f->node)) {
      fuse_reply_err(req, err);
      return;
    }
  }
  if (!st.vault->GetDisk(f->node.disk, &f->disk).ok()) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (int err = st.tree.ResolveView(f->node, &f->view)) {
    fuse_reply_err(req, err);
    return;
  }
  // Frozen images may stay in the page cache across opens; disks/ and
  // branches/ change (writes, failover), so each open drops it. O_DIRECT
  // reaches the vault's own files as buffered reads, but the kernel reads
  // nothing ahead for such a handle: the daemon does (fs/read_ahead.h).
  fi->keep_cache = f->node.frozen();
  if ((fi->flags & O_DIRECT) && f->node.kind == NodeKind::kFlat) {
    f->read_ahead = std::make_unique<ReadAhead::Stream>();
  }
  fi->fh = reinterpret_cast<uint64_t>(f.release());
  fuse_reply_open(req, fi);
}

void RpfsRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<OpenFile*>(fi->fh);
  fuse_reply_err(req, 0);
}

void RpfsRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  FuseState& st = State(req);
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  if (st.tree.Gone(f->node)) {
    fuse_reply_err(req, kGoneErrno);
    return;
  }
  if (f->node.kind == NodeKind::kDescriptor) {
    std::string text = DescriptorText(st, f->disk, f->node);
    size_t o = std::min(static_cast<size_t>(off), text.size());
    fuse_reply_buf(req, text.data() + o, std::min(size, text.size() - o));
    return;
  }
  uint64_t o = static_cast<uint64_t>(off);
  if (o >= f->disk.size) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(size, f->disk.size - o));
  // A disks/ handle reads what disks/ shows now: the inode's page cache
  // holds one branch's bytes, and a handle opened before a failover must
  // not fill it with the closed timeline for later opens to read. Its
  // writes stay on the branch it was opened on (the fence, RpfsWrite).
  const bool follows_active = !f->node.frozen() && f->node.branch == 0;
  const catalog::View view = follows_active ? st.vault->Latest(f->disk) : f->view;
  // Queued before this read, so the device works on what comes next while
  // this request is served.
  if (f->read_ahead) st.read_ahead.OnRead(f->read_ahead.get(), f->disk.id, view, o, n, f->disk.size);
  std::unique_ptr<char[]> buf(new char[n]);
  Status s = st.vault->Read(f->disk.id, view, o, n, buf.get());
  if (!s.ok()) {
    fuse_reply_err(req, ErrnoFor(s));
    return;
  }
  fuse_reply_buf(req, buf.get(), n);
}

void RpfsWrite(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t off,
               fuse_file_info* fi) {
  FuseState& st = State(req);
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  if (f->node.frozen()) {
    fuse_reply_err(req, EROFS);
    return;
  }
  if (st.tree.Gone(f->node)) {
    fuse_reply_err(req, kGoneErrno);
    return;
  }
  uint64_t o = static_cast<uint64_t>(off);
  if (f->node.kind == NodeKind::kDescriptor) {
    // The branch may have closed since the open (failover, failback).
    int err = st.tree.CheckWritable(f->node);
    if (err == 0) err = st.descriptors.Write(f->disk, f->node.branch, o, data, size);
    if (err) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_write(req, size);
    return;
  }
  // A disk never grows: past its end is "no space", short writes at it.
  if (o >= f->disk.size) {
    fuse_reply_err(req, ENOSPC);
    return;
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(size, f->disk.size - o));
  // The vault decides whether the handle's branch still takes writes: a
  // disks/ handle opened before a failover holds the closed old timeline
  // and gets EROFS (Status::ReadOnly), so the copies cannot diverge.
  Status s = st.vault->WriteBranch(f->disk.id, f->view.branch, o, data, n);
  if (!s.ok()) {
    fuse_reply_err(req, st.tree.Gone(f->node) ? kGoneErrno : ErrnoFor(s));
    return;
  }
  fuse_reply_write(req, n);
}

// A rewritten descriptor must keep its extent and size; otherwise the
// last good text comes back and the writer hears about it.
int CheckDescriptor(FuseState& st, const OpenFile& f) {
  if (f.node.kind != NodeKind::kDescriptor || f.node.frozen()) return 0;
  return st.descriptors.RevertIfBroken(f.disk, f.node.branch);
}

void RpfsFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fuse_reply_err(req, CheckDescriptor(State(req), *reinterpret_cast<OpenFile*>(fi->fh)));
}

void RpfsFsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  FuseState& st = State(req);
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  if (int err = CheckDescriptor(st, *f)) {
    fuse_reply_err(req, err);
    return;
  }
  // Group commit: concurrent fsyncs share the journal's fdatasync. A
  // handle whose branch closed still syncs what it wrote before.
  fuse_reply_err(req, f->node.frozen() ? 0 : ErrnoFor(st.vault->Sync()));
}

void RpfsStatfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs sv;
  if (::statvfs(State(req).vault->dir().c_str(), &sv) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_statfs(req, &sv);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = RpfsInit;
  ops.lookup = RpfsLookup;
  ops.forget = RpfsForget;
  ops.forget_multi = RpfsForgetMulti;
  ops.getattr = RpfsGetattr;
  ops.setattr = RpfsSetattr;
  ops.readlink = RpfsReadlink;
  ops.opendir = RpfsOpendir;
  ops.readdir = RpfsReaddir;
  ops.releasedir = RpfsReleasedir;
  ops.open = RpfsOpen;
  ops.release = RpfsRelease;
  ops.read = RpfsRead;
  ops.write = RpfsWrite;
  ops.flush = RpfsFlush;
  ops.fsync = RpfsFsync;
  ops.statfs = RpfsStatfs;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& RpfsFuseOps() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace rpfs::fs
