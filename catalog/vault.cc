// Vault lifecycle: create, open (lock, recover), row caches, flushes.
// I/O is in vault_io.cc, points and views in vault_points.cc.
#include "catalog/vault.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>

#include "catalog/change_log.h"
#include "catalog/job_log.h"

namespace rpfs::catalog {
namespace {

uint64_t WallClockNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool IsDirEmptyOrMissing(const std::string& dir, Status* err) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    *err = Status::FromErrno(errno, "stat " + dir);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *err = Status::InvalidArgument(dir + " exists and is not a directory");
    return false;
  }
  std::string probe = dir + "/catalog";
  if (::stat(probe.c_str(), &st) == 0) {
    *err = Status::AlreadyExists("a vault already exists at " + dir);
    return false;
  }
  return true;
}

}  // namespace

Vault::Vault(std::string dir, const OpenOptions& options)
    : dir_(std::move(dir)), options_(options) {
  clock_ = options_.clock ? options_.clock : WallClockNs;
}

Vault::~Vault() {
  StopIndexFlusher();
  if (journal_) {
    std::lock_guard<std::mutex> l(write_mu_);
    FlushIndexLocked();
  }
  journal_.reset();
  catalog_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Vault::Lock(const std::string& dir, int* fd) {
  std::string path = dir + "/LOCK";
  int f = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (f < 0) return Status::FromErrno(errno, "open " + path);
  if (::flock(f, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(f, buf, sizeof buf - 1, 0);
    ::close(f);
    if (err == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return Status::Busy("vault " + dir + " is locked by another process (pid " + pid + ")");
    }
    return Status::FromErrno(err, "lock " + path);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(f, 0) != 0 || ::pwrite(f, pid.data(), pid.size(), 0) < 0) {
    // The pid is only a hint for the "locked by" message.
  }
  *fd = f;
  return Status::OK();
}

Status Vault::Create(const std::string& dir, const VaultOptions& options,
                     const OpenOptions& open_options, std::unique_ptr<Vault>* out) {
  uint32_t bs = options.block_size;
  if (bs < 512 || bs > (1u << 20) || (bs & (bs - 1)) != 0) {
    return Status::InvalidArgument("bad block size " + std::to_string(bs) +
                                   ": must be a power of two from 512 to 1048576");
  }
  if (options.compression_level < kMinCompressionLevel ||
      options.compression_level > kMaxCompressionLevel) {
    return Status::InvalidArgument("bad compression level " +
                                   std::to_string(options.compression_level) + ": " +
                                   std::to_string(kMinCompressionLevel) + " to " +
                                   std::to_string(kMaxCompressionLevel));
  }
  if (options.max_segment_bytes < (1u << 20) || options.max_segment_bytes > (1ull << 30)) {
    return Status::InvalidArgument("bad segment size: 1 MiB to 1 GiB");
  }
  if (options.encrypt && options.passphrase.empty()) {
    return Status::InvalidArgument("an encrypted vault needs a passphrase");
  }
  Status err;
  if (!IsDirEmptyOrMissing(dir, &err)) return err;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "create vault directory " + dir);
  }
  std::unique_ptr<Vault> v(new Vault(dir, open_options));
  RPFS_RETURN_IF_ERROR(Lock(dir, &v->lock_fd_));
  VaultMeta& m = v->meta_;
  std::random_device rd;
  for (auto& b : m.id.bytes) b = static_cast<uint8_t>(rd());
  m.block_size = bs;
  m.compression_level = options.compression_level;
  m.max_segment_bytes = options.max_segment_bytes;
  m.created_ns = v->clock_();
  m.passphrase_hash = options.passphrase_hash;
  m.max_size = options.max_size;
  if (options.encrypt) {
    RPFS_RETURN_IF_ERROR(journal::NewDataKey(&v->data_key_));
    RPFS_RETURN_IF_ERROR(journal::WrapDataKey(v->data_key_, options.passphrase, &m.data_key));
    m.seal_epoch = 1;  // durable with the meta below, before any append
    v->sealer_ = std::make_shared<journal::PayloadSealer>(v->data_key_.bytes, m.seal_epoch);
  }
  v->encoder_ = std::make_unique<journal::BlockEncoder>(m.compression_level);
  journal::JournalOptions jo;
  jo.max_segment_bytes = m.max_segment_bytes;
  jo.sealer = v->sealer_;
  RPFS_RETURN_IF_ERROR(journal::Journal::Create(dir + "/journal", m.id, jo, &v->journal_));
  m.indexed_pos = v->journal_->end();
  RPFS_RETURN_IF_ERROR(Catalog::Open(dir + "/catalog", open_options.initial_map_size, &v->catalog_));
  Branch primary;
  primary.id = 1;
  primary.name = "primary";
  primary.kind = "primary";
  primary.created_ns = m.created_ns;
  RPFS_RETURN_IF_ERROR(v->PutRowDurably([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(
        v->catalog_->PutRow(txn, v->catalog_->branches, BigEndianKey32(1), primary));
    return v->catalog_->PutMeta(txn, m);
  }));
  v->branches_[1] = primary;
  v->StartIndexFlusher();
  *out = std::move(v);
  return Status::OK();
}

Status Vault::Open(const std::string& dir, const OpenOptions& options,
                   std::unique_ptr<Vault>* out) {
  struct stat st;
  if (::stat((dir + "/catalog/data.mdb").c_str(), &st) != 0) {
    return Status::NotFound("no vault at " + dir + " (run 'rpfs init " + dir + "')");
  }
  std::unique_ptr<Vault> v(new Vault(dir, options));
  RPFS_RETURN_IF_ERROR(Lock(dir, &v->lock_fd_));
  RPFS_RETURN_IF_ERROR(Catalog::Open(dir + "/catalog", options.initial_map_size, &v->catalog_));
  Status s = v->catalog_->LoadMeta(&v->meta_);
  if (s.IsNotFound()) return Status::Corruption("vault " + dir + ": catalog has no vault meta");
  RPFS_RETURN_IF_ERROR(s);
  RPFS_RETURN_IF_ERROR(v->UnlockDataKey());  // a wrong passphrase goes no further
  RPFS_RETURN_IF_ERROR(v->UpgradeFormat());
  v->encoder_ = std::make_unique<journal::BlockEncoder>(v->meta_.compression_level);
  RPFS_RETURN_IF_ERROR(v->LoadRows());
  RPFS_RETURN_IF_ERROR(JobLog(*v).InterruptRunning());
  RPFS_RETURN_IF_ERROR(v->Recover());
  v->StartIndexFlusher();
  *out = std::move(v);
  return Status::OK();
}

Status Vault::UpgradeFormat() {
  VaultMeta m = meta_;
  if (m.format > VaultMeta().format) {
    return Status::InvalidArgument("vault " + dir_ + " has catalog format " +
                                   std::to_string(m.format) + ", made by a newer rpfs");
  }
  if (m.format == VaultMeta().format) return Status::OK();
  // Format 1 had no change log: build it from the block map.
  m.format = VaultMeta().format;
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(BuildChangeLog(txn, catalog_->blocks_db, catalog_->changes,
                                        options_.index_flush_entries));
    return catalog_->PutMeta(txn, m);
  }));
  meta_ = m;
  recovery_notes_.push_back("catalog: upgraded to format " + std::to_string(m.format) +
                            " (built the change log)");
  return Status::OK();
}

Status Vault::LoadRows() {
  std::vector<Group> groups;
  std::vector<Disk> disks;
  std::vector<Branch> branches;
  std::vector<Point> points;
  RPFS_RETURN_IF_ERROR(catalog_->ListRows(catalog_->groups, &groups));
  RPFS_RETURN_IF_ERROR(catalog_->ListRows(catalog_->disks, &disks));
  RPFS_RETURN_IF_ERROR(catalog_->ListRows(catalog_->branches, &branches));
  RPFS_RETURN_IF_ERROR(catalog_->ListRows(catalog_->points, &points));
  for (auto& g : groups) groups_[g.name] = g;
  for (auto& d : disks) {
    disks_by_name_[d.name] = d;
    disks_[d.id] = d;
  }
  for (auto& b : branches) branches_[b.id] = b;
  for (auto& p : points) points_[p.id] = p;
  std::vector<ReplicaLink> links;
  RPFS_RETURN_IF_ERROR(catalog_->ListRows(catalog_->links, &links));
  for (auto& k : links) links_[k.source_vault + "/" + k.group] = k;
  return Status::OK();
}

Status Vault::Recover() {
  std::lock_guard<std::mutex> l(write_mu_);
  journal::JournalOptions jo;
  jo.max_segment_bytes = meta_.max_segment_bytes;
  jo.sealer = sealer_;
  journal::RecoveryReport report;
  last_seq_ = meta_.indexed_seq;
  auto visit = [&](const journal::RecordHeader& h, const std::string& payload,
                   const journal::RecordLocation& loc) { return IndexRecord(h, payload, loc); };
  std::vector<uint32_t> retired;
  RPFS_RETURN_IF_ERROR(catalog_->ListRetired(&retired));
  RPFS_RETURN_IF_ERROR(journal::Journal::Open(dir_ + "/journal", meta_.id, jo, meta_.indexed_pos,
                                              meta_.indexed_seq, retired, visit, &report,
                                              &journal_));
  DropTornCallLocked();  // one still open at the journal's end
  DropTornBatchLocked();
  if (report.dropped_bytes > 0) {
    recovery_notes_.push_back("journal: dropped a torn tail of " +
                              std::to_string(report.dropped_bytes) + " bytes at " +
                              report.dropped_where);
  }
  if (report.end < meta_.indexed_pos) {
    // The journal ends before what the index had seen (its tail was cut
    // by hand or lost): forget every version, point and instant past it.
    uint64_t removed = 0;
    RPFS_RETURN_IF_ERROR(catalog_->blocks().RemoveFrom(report.end, &removed));
    std::vector<uint64_t> gone;
    for (auto& [id, p] : points_) {
      if (p.seq > report.last_seq) gone.push_back(id);
    }
    RPFS_RETURN_IF_ERROR(catalog_->env().Update([&](Txn& txn) {
      for (uint64_t id : gone) RPFS_RETURN_IF_ERROR(txn.Del(catalog_->points, BigEndianKey64(id)));
      RPFS_RETURN_IF_ERROR(TruncateChangesAfter(txn, catalog_->changes, report.last_seq));
      Cursor c(txn, catalog_->timeline);
      RPFS_RETURN_IF_ERROR(c.First());
      while (c.valid()) {
        if (c.value().size() == 8 &&
            GetBE64(reinterpret_cast<const uint8_t*>(c.value().data())) > report.last_seq) {
          RPFS_RETURN_IF_ERROR(c.DeleteCurrent());
        }
        RPFS_RETURN_IF_ERROR(c.Next());
      }
      return Status::OK();
    }));
    for (uint64_t id : gone) points_.erase(id);
    recovery_notes_.push_back("catalog: journal ends at seq " + std::to_string(report.last_seq) +
                              " (segment " + journal::SegmentFileName(report.end.segment) +
                              " offset " + std::to_string(report.end.offset) +
                              ") but the index had seq " + std::to_string(meta_.indexed_seq) +
                              "; removed " + std::to_string(removed) + " block versions and " +
                              std::to_string(gone.size()) + " points past it");
    last_seq_ = report.last_seq;
  }
  if (report.replayed > 0) {
    recovery_notes_.push_back("journal: re-indexed " + std::to_string(report.replayed) +
                              " records past seq " + std::to_string(meta_.indexed_seq));
  }
  last_seq_ = std::max(last_seq_, report.last_seq);
  last_time_ns_ = std::max(last_time_ns_, report.last_time_ns);
  // The newest instant indexed, too: the journal's tail may hold nothing
  // but compaction copies (old times), and record times never go back.
  RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
    Cursor c(txn, catalog_->timeline);
    RPFS_RETURN_IF_ERROR(c.Last());
    if (c.valid() && c.key().size() == 8) {
      const uint64_t ms = GetBE64(reinterpret_cast<const uint8_t*>(c.key().data()));
      last_time_ns_ = std::max(last_time_ns_, ms * 1000000);
      last_timeline_ms_ = std::max(last_timeline_ms_, ms);
    }
    return Status::OK();
  }));
  return FlushIndexLocked();
}

Status Vault::IndexRecord(const journal::RecordHeader& h, const std::string& payload,
                          const journal::RecordLocation& loc) {
  last_seq_ = std::max(last_seq_, h.seq);
  last_time_ns_ = std::max(last_time_ns_, h.time_ns);
  // A compaction copy's time is its original's, long past: the timeline
  // already has it.
  if (!(h.flags & journal::kCopy)) NoteTimeLocked(h.time_ns, h.seq);
  if (h.type == journal::RecordType::kWrite) {
    if (meta_.block_size == 0 || h.offset % meta_.block_size != 0 || h.length != meta_.block_size) {
      return Status::Corruption("segment " + journal::SegmentFileName(loc.segment) + " offset " +
                                std::to_string(loc.offset) + ": write record is not one block");
    }
    BlockVersion v{h.seq, loc, h.flags};
    const BlockKey key{h.disk, h.branch, h.offset / meta_.block_size, h.seq};
    if (h.flags & journal::kCopy) {
      // Copies go in between write calls, never inside one.
      DropTornCallLocked();
      DropTornBatchLocked();
      catalog_->blocks().Add(key, v);
      return Status::OK();
    }
    if (h.flags & journal::kBatch) {
      // A replicated batch counts once its kLink record is seen.
      DropTornCallLocked();
      replay_batch_.emplace_back(key, v);
      return Status::OK();
    }
    DropTornBatchLocked();
    if (!replay_call_.empty() && replay_call_.back().first.seq != h.seq) DropTornCallLocked();
    replay_call_.emplace_back(key, v);
    if (h.flags & journal::kContinued) return Status::OK();
    for (const auto& [k, ver] : replay_call_) catalog_->blocks().Add(k, ver);
    replay_call_.clear();
    return Status::OK();
  }
  DropTornCallLocked();
  if (h.type == journal::RecordType::kLink) return IndexLinkRecord(h, payload, loc);
  DropTornBatchLocked();
  Point p;
  Status s = Catalog::Parse(payload, &p);
  if (!s.ok()) {
    return Status::Corruption("segment " + journal::SegmentFileName(loc.segment) + " offset " +
                              std::to_string(loc.offset) + ": point record: " + s.message());
  }
  meta_.next_point_id = std::max(meta_.next_point_id, p.id + 1);
  // A point older than its group's horizon expired before compaction
  // reclaimed its history: replaying its marker must not bring it back.
  bool reclaimed;
  {
    std::shared_lock<std::shared_mutex> rl(rows_mu_);
    reclaimed = !CheckHorizonLocked(p.group, p.seq).ok();
  }
  if (!reclaimed && !points_.count(p.id)) pending_points_.push_back(p);
  return Status::OK();
}

void Vault::DropTornCallLocked() {
  // A call whose last block never reached the journal: it was not
  // acknowledged as durable, and half of it must not show.
  if (replay_call_.empty()) return;
  recovery_notes_.push_back("journal: left out write call seq " +
                            std::to_string(replay_call_.front().first.seq) + " (" +
                            std::to_string(replay_call_.size()) +
                            " blocks): a crash cut it short");
  replay_call_.clear();
}

void Vault::DropTornBatchLocked() {
  // A replicated batch without its kLink record: never acknowledged to
  // the source, which sends it again.
  if (replay_batch_.empty()) return;
  recovery_notes_.push_back("journal: left out a replicated batch from seq " +
                            std::to_string(replay_batch_.front().first.seq) + " (" +
                            std::to_string(replay_batch_.size()) +
                            " blocks): a crash cut it short");
  replay_batch_.clear();
}

void Vault::NoteTimeLocked(uint64_t time_ns, uint64_t seq) {
  uint64_t ms = time_ns / 1000000;
  if (ms != last_timeline_ms_) {
    pending_timeline_.emplace_back(ms, seq);
    last_timeline_ms_ = ms;
  }
}

uint64_t Vault::NextTimeLocked() {
  // Record times never go backwards, so seq order is time order.
  last_time_ns_ = std::max(last_time_ns_, clock_());
  return last_time_ns_;
}

Status Vault::PutRowDurably(const std::function<Status(Txn&)>& fn) {
  RPFS_RETURN_IF_ERROR(catalog_->env().Update(fn));
  return catalog_->env().Sync();
}

Status Vault::CommitRows(Pins pins, const std::function<Status(RowCommit&)>& fn) {
  std::lock_guard<std::mutex> l(write_mu_);
  if (pins == Pins::kMayPin) ++pin_generation_;
  std::optional<VaultMeta> changed;  // kept once the transaction commits
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    RowCommit c{txn, meta_};
    RPFS_RETURN_IF_ERROR(fn(c));
    if (!c.meta_changed) return Status::OK();
    changed = std::move(c.meta);
    return catalog_->PutMeta(txn, *changed);
  }));
  if (changed) meta_ = std::move(*changed);
  return Status::OK();
}

VaultMeta Vault::Meta() const {
  std::lock_guard<std::mutex> l(write_mu_);
  return meta_;
}

uint64_t Vault::last_seq() const {
  std::lock_guard<std::mutex> l(write_mu_);
  return last_seq_;
}

Status Vault::CreateGroup(const Group& group) {
  if (group.name.empty() || group.name.find('/') != std::string::npos) {
    return Status::InvalidArgument("bad group name '" + group.name + "': non-empty, no '/'");
  }
  std::lock_guard<std::mutex> l(write_mu_);
  if (groups_.count(group.name)) return Status::AlreadyExists("group " + group.name + " exists");
  Group g = group;
  g.created_ns = clock_();
  g.active_branch = 1;
  RPFS_RETURN_IF_ERROR(PutRowDurably(
      [&](Txn& txn) { return catalog_->PutRow(txn, catalog_->groups, g.name, g); }));
  std::unique_lock<std::shared_mutex> rl(rows_mu_);
  groups_[g.name] = g;
  return Status::OK();
}

Status Vault::GetGroup(const std::string& name, Group* group) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto it = groups_.find(name);
  if (it == groups_.end()) return Status::NotFound("unknown group '" + name + "'");
  *group = it->second;
  return Status::OK();
}

std::vector<Group> Vault::ListGroups() const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  std::vector<Group> out;
  for (auto& [name, g] : groups_) out.push_back(g);
  return out;
}

Status Vault::CreateDisk(const std::string& name, uint64_t size, const std::string& group,
                         Disk* disk) {
  // Names become file names on the mount and in VMDK descriptors: keep
  // them to letters, digits, '.', '_' and '-', as VM/DISK.
  size_t slash = name.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < name.size() &&
            name.find('/', slash + 1) == std::string::npos && name[0] != '.' &&
            name[slash + 1] != '.' && name.size() <= 200;
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
                c == '/');
  }
  if (!ok) {
    return Status::InvalidArgument("bad disk name '" + name +
                                   "': expected VM/DISK of letters, digits, '.', '_', '-'");
  }
  if (size == 0) return Status::InvalidArgument("bad size for disk " + name + ": must be > 0");
  const uint64_t bs = meta_.block_size;
  if (size > (1ull << 50)) return Status::InvalidArgument("bad size for disk " + name + ": over 1 PiB");
  size = (size + bs - 1) / bs * bs;
  std::lock_guard<std::mutex> l(write_mu_);
  if (!groups_.count(group)) return Status::NotFound("unknown group '" + group + "'");
  if (disks_by_name_.count(name)) return Status::AlreadyExists("disk " + name + " exists");
  Disk d;
  d.id = meta_.next_disk_id;
  d.name = name;
  d.size = size;
  d.group = group;
  d.created_ns = clock_();
  VaultMeta m = meta_;
  m.next_disk_id++;
  RPFS_RETURN_IF_ERROR(PutRowDurably([&](Txn& txn) {
    RPFS_RETURN_IF_ERROR(catalog_->PutRow(txn, catalog_->disks, d.name, d));
    return catalog_->PutMeta(txn, m);
  }));
  meta_.next_disk_id = m.next_disk_id;
  std::unique_lock<std::shared_mutex> rl(rows_mu_);
  disks_by_name_[d.name] = d;
  disks_[d.id] = d;
  if (disk) *disk = d;
  return Status::OK();
}

Status Vault::FindDisk(const std::string& name, Disk* disk) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto it = disks_by_name_.find(name);
  if (it == disks_by_name_.end()) return Status::NotFound("unknown disk '" + name + "'");
  *disk = it->second;
  return Status::OK();
}

Status Vault::GetDisk(uint32_t id, Disk* disk) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto it = disks_.find(id);
  if (it == disks_.end()) return Status::NotFound("unknown disk id " + std::to_string(id));
  *disk = it->second;
  return Status::OK();
}

void Vault::NoteOwnerPid() {
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // Only a hint for "locked by" messages.
  }
}

std::vector<Disk> Vault::ListDisks() const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  std::vector<Disk> out;
  for (auto& [name, d] : disks_by_name_) out.push_back(d);
  return out;
}

Status Vault::GetBranch(uint32_t id, Branch* branch) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  auto it = branches_.find(id);
  if (it == branches_.end()) return Status::NotFound("unknown branch " + std::to_string(id));
  *branch = it->second;
  return Status::OK();
}

BranchChain Vault::ChainFor(View view) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  BranchChain chain;
  uint32_t b = view.branch;
  uint64_t seq = view.seq;
  while (b != 0 && chain.size() < 1024) {
    chain.push_back(BranchLevel{b, seq});
    auto it = branches_.find(b);
    if (it == branches_.end()) break;
    seq = std::min(seq, it->second.fork_seq);
    b = it->second.parent;
  }
  return chain;
}

uint64_t Vault::CopyRoom() const {
  struct statvfs fs;
  if (::statvfs(dir_.c_str(), &fs) != 0) return 0;
  const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const uint64_t reserve = 2 * meta_.max_segment_bytes;
  return free > reserve ? free - reserve : 0;
}

uint64_t Vault::CatalogFileBytes() const {
  struct stat s;
  if (::stat((dir_ + "/catalog/data.mdb").c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.st_blocks) * 512;
}

Status Vault::Stats(VaultStats* st) {
  *st = VaultStats();
  for (uint32_t seg : journal_->Segments()) {
    struct stat s;
    if (::stat(journal_->SegmentPath(seg).c_str(), &s) == 0) {
      st->journal_bytes += static_cast<uint64_t>(s.st_size);
    }
    st->segments++;
  }
  st->catalog_bytes = CatalogFileBytes();
  RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
    MDB_stat ms;
    RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_stat(txn.get(), catalog_->blocks_db, &ms), "stat"));
    st->block_versions = ms.ms_entries;
    return Status::OK();
  }));
  st->unflushed_versions = catalog_->blocks().unflushed();
  st->block_versions += st->unflushed_versions;
  std::lock_guard<std::mutex> l(write_mu_);
  st->last_seq = last_seq_;
  st->last_time_ns = last_time_ns_;
  return Status::OK();
}

}  // namespace rpfs::catalog
