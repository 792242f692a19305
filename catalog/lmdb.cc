#include "catalog/lmdb.h"

#include <sys/stat.h>

#include <cerrno>
#include <mutex>

namespace rpfs::catalog {

Status LmdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::OK();
  std::string msg = "catalog: " + std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_NOTFOUND) return Status::NotFound(msg);
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
      rc == MDB_VERSION_MISMATCH) {
    return Status::Corruption(msg);
  }
  if (rc == ENOSPC) return Status::NoSpace(msg);
  if (rc > 0) return Status::IOError(msg);
  return Status::Internal(msg);
}

namespace {
MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
}  // namespace

Status Txn::Get(MDB_dbi dbi, std::string_view key, std::string_view* value) const {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "get");
  *value = std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
  return Status::OK();
}

Status Txn::Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return LmdbStatus(rc, "put");
}

Status Txn::Append(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, MDB_APPEND);
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return LmdbStatus(rc, "append");
}

Status Txn::Del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return Status::OK();
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return LmdbStatus(rc, "delete");
}

Cursor::Cursor(Txn& txn, MDB_dbi dbi) : txn_(&txn) {
  open_status_ = LmdbStatus(mdb_cursor_open(txn.get(), dbi, &cursor_), "open cursor");
}

Cursor::Cursor(Txn& txn, MDB_dbi dbi, MDB_cursor* reuse) : txn_(&txn) {
  if (reuse != nullptr && mdb_cursor_renew(txn.get(), reuse) == MDB_SUCCESS) {
    cursor_ = reuse;
    return;
  }
  if (reuse != nullptr) mdb_cursor_close(reuse);
  open_status_ = LmdbStatus(mdb_cursor_open(txn.get(), dbi, &cursor_), "open cursor");
}

MDB_cursor* Cursor::Release() {
  MDB_cursor* c = cursor_;
  cursor_ = nullptr;
  return c;
}

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Status Cursor::Move(MDB_cursor_op op) {
  if (!open_status_.ok()) return open_status_;
  int rc = mdb_cursor_get(cursor_, &k_, &v_, op);
  valid_ = rc == MDB_SUCCESS;
  if (rc == MDB_NOTFOUND) return Status::OK();
  return LmdbStatus(rc, "cursor");
}

Status Cursor::SeekAtLeast(std::string_view key) {
  k_ = Val(key);
  return Move(MDB_SET_RANGE);
}
Status Cursor::First() { return Move(MDB_FIRST); }
Status Cursor::Last() { return Move(MDB_LAST); }
Status Cursor::Next() { return Move(MDB_NEXT); }
Status Cursor::Prev() { return Move(MDB_PREV); }
Status Cursor::DeleteCurrent() {
  valid_ = false;
  int rc = mdb_cursor_del(cursor_, 0);
  if (rc == MDB_MAP_FULL) txn_->note_map_full();
  return LmdbStatus(rc, "cursor delete");
}

Status Env::Open(const std::string& dir, const Options& options, std::unique_ptr<Env>* out) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir " + dir);
  }
  MDB_env* env;
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_env_create(&env), "create env"));
  std::unique_ptr<Env> e(new Env(env));
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_maxdbs(env, options.max_dbs), "set maxdbs"));
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_maxreaders(env, 1024), "set maxreaders"));
  // A map size set before open only applies to a new file; an existing
  // one keeps its own (larger) size.
  RPFS_RETURN_IF_ERROR(
      LmdbStatus(mdb_env_set_mapsize(env, options.initial_map_size), "set mapsize"));
  RPFS_RETURN_IF_ERROR(LmdbStatus(
      mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC | MDB_NORDAHEAD, 0644),
      "open " + dir));
  *out = std::move(e);
  return Status::OK();
}

Env::~Env() {
  DropIdleReaders();
  mdb_env_close(env_);
}

void Env::DropIdleReaders() {
  std::lock_guard<std::mutex> l(idle_mu_);
  for (MDB_txn* t : idle_readers_) mdb_txn_abort(t);
  idle_readers_.clear();
}

Status Env::OpenDb(const char* name, MDB_dbi* dbi) {
  return Update([&](Txn& txn) {
    return LmdbStatus(mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi),
                      std::string("open database ") + name);
  });
}

Status Env::AcquireReader(MDB_txn** txn) const {
  MDB_txn* raw = nullptr;
  {
    std::lock_guard<std::mutex> il(idle_mu_);
    if (!idle_readers_.empty()) {
      raw = idle_readers_.back();
      idle_readers_.pop_back();
    }
  }
  if (raw != nullptr && mdb_txn_renew(raw) != MDB_SUCCESS) {
    mdb_txn_abort(raw);
    raw = nullptr;
  }
  if (raw == nullptr) {
    RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &raw), "begin read"));
  }
  *txn = raw;
  return Status::OK();
}

void Env::ReleaseReader(MDB_txn* raw) const {
  mdb_txn_reset(raw);
  std::lock_guard<std::mutex> il(idle_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) {
    idle_readers_.push_back(raw);
  } else {
    mdb_txn_abort(raw);
  }
}

Status Env::Update(const std::function<Status(Txn&)>& fn) {
  for (;;) {
    int rc;
    Status s;
    {
      std::shared_lock<std::shared_mutex> l(resize_mu_);
      MDB_txn* raw;
      RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_txn_begin(env_, nullptr, 0, &raw), "begin write"));
      Txn txn(raw);
      s = fn(txn);
      if (!s.ok()) {
        mdb_txn_abort(raw);
        if (!txn.map_full()) return s;
        rc = MDB_MAP_FULL;
      } else {
        rc = mdb_txn_commit(raw);
        if (rc != MDB_SUCCESS && rc != MDB_MAP_FULL) return LmdbStatus(rc, "commit");
      }
    }
    if (rc == MDB_SUCCESS) return Status::OK();
    RPFS_RETURN_IF_ERROR(Grow());
  }
}

Status Env::Grow() {
  std::unique_lock<std::shared_mutex> l(resize_mu_);
  DropIdleReaders();  // set_mapsize wants no transaction in the process
  MDB_envinfo info;
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_env_info(env_, &info), "env info"));
  return LmdbStatus(mdb_env_set_mapsize(env_, info.me_mapsize * 2), "grow map");
}

size_t Env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

Status Env::Sync() { return LmdbStatus(mdb_env_sync(env_, 1), "sync"); }

}  // namespace rpfs::catalog
