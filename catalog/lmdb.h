// Thin RAII wrappers over LMDB: Env, Txn, Cursor. Every raw mdb_* call
// of rpfs lives in catalog/; every return code becomes a Status carrying
// mdb_strerror's text.
//
// Transactions run through Env::View (read) and Env::Update (write), which
// take a function: when a write hits MDB_MAP_FULL the map is doubled and
// the function runs again, so the catalog grows instead of failing.
// Commits sync data pages but not the meta page (MDB_NOMETASYNC): the last
// commit may be lost to a power cut, never corrupted; the journal replays
// what the index lost. Env::Sync() makes everything durable for the rows
// (groups, disks, branches) that the journal does not carry.
// Thread-safe; read transactions may run on any thread (MDB_NOTLS).
#pragma once

#include <lmdb.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "journal/status.h"

namespace rpfs::catalog {

Status LmdbStatus(int rc, std::string_view what);

class Txn {
 public:
  Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* get() const { return txn_; }

  // NotFound if absent; the view stays valid until the txn ends.
  Status Get(MDB_dbi dbi, std::string_view key, std::string_view* value) const;
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Put of a key greater than every key in dbi (MDB_APPEND): no search,
  // and pages are filled instead of split in half. Fails otherwise.
  Status Append(MDB_dbi dbi, std::string_view key, std::string_view value);
  Status Del(MDB_dbi dbi, std::string_view key);  // ok if absent

  // True once a put in this txn ran out of map space.
  bool map_full() const { return map_full_; }
  void note_map_full() { map_full_ = true; }

 private:
  MDB_txn* txn_;
  bool map_full_ = false;
};

class Cursor {
 public:
  Cursor(Txn& txn, MDB_dbi dbi);
  // Renews `reuse` (a cursor of a read-only txn on dbi, from Release())
  // for txn instead of allocating a new cursor.
  Cursor(Txn& txn, MDB_dbi dbi, MDB_cursor* reuse);
  ~Cursor();
  // Gives up ownership of the underlying cursor (for reuse).
  MDB_cursor* Release();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Each positions the cursor; valid() says whether it rests on an entry.
  Status SeekAtLeast(std::string_view key);  // first key >= key
  Status First();
  Status Last();
  Status Next();
  Status Prev();
  Status DeleteCurrent();

  bool valid() const { return valid_; }
  std::string_view key() const { return {static_cast<const char*>(k_.mv_data), k_.mv_size}; }
  std::string_view value() const {
    return {static_cast<const char*>(v_.mv_data), v_.mv_size};
  }

 private:
  Status Move(MDB_cursor_op op);

  Txn* txn_;
  MDB_cursor* cursor_ = nullptr;
  Status open_status_;
  MDB_val k_{}, v_{};
  bool valid_ = false;
};

class Env {
 public:
  struct Options {
    size_t initial_map_size = 64ull << 20;
    unsigned max_dbs = 16;
  };
  // Opens (creating if needed) the environment in directory `dir`.
  static Status Open(const std::string& dir, const Options& options, std::unique_ptr<Env>* out);
  ~Env();

  // Opens (creating) a named database; call before concurrent use.
  Status OpenDb(const char* name, MDB_dbi* dbi);

  // A template, not std::function: the read path runs one View per
  // request and should not allocate for it.
  template <class Fn>
  Status View(Fn&& fn) const {
    std::shared_lock<std::shared_mutex> l(resize_mu_);
    MDB_txn* raw;
    RPFS_RETURN_IF_ERROR(AcquireReader(&raw));
    Txn txn(raw);
    Status s = fn(txn);
    ReleaseReader(raw);
    return s;
  }
  Status Update(const std::function<Status(Txn&)>& fn);
  Status Sync();

  size_t map_size() const;
  MDB_env* get() const { return env_; }

 private:
  explicit Env(MDB_env* env) : env_(env) {}
  Status Grow();
  void DropIdleReaders();
  Status AcquireReader(MDB_txn** txn) const;  // a renewed idle one, or a new one
  void ReleaseReader(MDB_txn* txn) const;

  static constexpr size_t kMaxIdleReaders = 64;

  MDB_env* env_;
  // Readers and writers hold it shared; growing the map holds it alone,
  // because mdb_env_set_mapsize needs no live transaction in the process.
  mutable std::shared_mutex resize_mu_;
  // Reset read transactions kept for reuse: mdb_txn_renew is far cheaper
  // than taking a new reader slot for every lookup.
  mutable std::mutex idle_mu_;
  mutable std::vector<MDB_txn*> idle_readers_;
};

}  // namespace rpfs::catalog
