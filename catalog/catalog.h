// Catalog: the vault's LMDB environment and its named databases.
//
//   meta      "vault" -> JSON VaultMeta (ids, block size, indexed position)
//   groups    name -> JSON Group
//   disks     "VM/DISK" -> JSON Disk
//   branches  id (BE u32) -> JSON Branch
//   points    id (BE u64) -> JSON Point
//   jobs      id (BE u64) -> JSON Job
//   blocks    the versioned block map (catalog/block_key.h)
//   changes   what each (disk, branch) wrote per flush (catalog/change_log.h)
//   timeline  ms since epoch (BE u64) -> first seq written in that ms (BE u64)
//   retired   segment number (BE u32) -> "": journal segments compaction
//             deleted (gaps in the numbering that are not losses)
//   links     "SOURCEVAULT/GROUP" -> JSON ReplicaLink: what replication
//             applied here (written with the index; kLink records rule)
//   replications  group -> JSON Replication: how far this vault's group
//             reached its target, as last acknowledged
//
// The meta row records the highest seq indexed and the journal position
// just after it, written in the same transaction as the index entries.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "catalog/block_map.h"
#include "catalog/lmdb.h"
#include "catalog/rows.h"
#include "journal/journal.h"

namespace rpfs::catalog {

// zstd levels for journal payloads (`rpfs init --compression`): 0 stores
// payloads as they are, negative levels are zstd's fast ones. The default
// is the first fast level: on 4 KiB blocks of text it compresses about 1.4x
// and decompresses 1.5x faster than level 1, for a ratio of 4.0 against
// 4.8, and both sit in the live disk's write and read paths.
constexpr int kDefaultCompressionLevel = -1;
constexpr int kMinCompressionLevel = -7;
constexpr int kMaxCompressionLevel = 19;

struct VaultMeta {
  // 1: no change log; 2: change log (Open builds it for a format-1 vault).
  uint32_t format = 2;
  journal::VaultId id;
  uint32_t block_size = 4096;
  int compression_level = kDefaultCompressionLevel;
  uint64_t max_segment_bytes = 64ull << 20;
  uint64_t created_ns = 0;
  uint64_t indexed_seq = 0;
  journal::JournalPos indexed_pos;
  uint32_t next_disk_id = 1;
  uint32_t next_branch_id = 2;
  uint64_t next_point_id = 1;
  uint64_t next_job_id = 1;
  std::string passphrase_hash;  // scrypt, see tools/commands/init.cc
  // Encrypted vaults: the data key wrapped under the passphrase
  // (journal/data_key.h; "": not encrypted), and the seal epoch, bumped
  // at every open before any append (journal/payload_sealer.h).
  std::string data_key;
  uint32_t seal_epoch = 0;
  // What the last compaction pass found (catalog/vault_compaction.cc).
  uint64_t live_bytes = 0;     // journal bytes some view still needs
  uint64_t garbage_bytes = 0;  // journal bytes nothing needs
  uint64_t compacted_ns = 0;   // when (0: never)
  uint64_t reclaimed_bytes = 0;  // by every pass so far
  // Size cap (journal + catalog bytes; 0: none). Near it, compaction
  // reclaims the oldest history first, shrinking retention.
  uint64_t max_size = 0;
};

std::string BigEndianKey32(uint32_t v);
std::string BigEndianKey64(uint64_t v);

class Catalog {
 public:
  // Opens dir/ (an LMDB environment), creating the databases if needed.
  static Status Open(const std::string& dir, size_t initial_map_size,
                     std::unique_ptr<Catalog>* out);

  Env& env() { return *env_; }
  BlockMap& blocks() { return *blocks_; }

  Status LoadMeta(VaultMeta* meta) const;  // NotFound on a fresh env
  Status LoadMeta(const Txn& txn, VaultMeta* meta) const;
  Status PutMeta(Txn& txn, const VaultMeta& meta);
  Status ListRetired(std::vector<uint32_t>* segments) const;
  // Reads the meta of the vault catalog at dir without opening it for
  // writing and without its lock (read-only LMDB, closed on return): for
  // a look before a fork, e.g. whether the vault is encrypted.
  static Status PeekMeta(const std::string& dir, VaultMeta* meta);

  template <class Row>
  Status PutRow(Txn& txn, MDB_dbi dbi, std::string_view key, const Row& row) {
    nlohmann::json j = row;
    return txn.Put(dbi, key, j.dump());
  }
  template <class Row>
  Status GetRow(const Txn& txn, MDB_dbi dbi, std::string_view key, Row* row) const {
    std::string_view v;
    RPFS_RETURN_IF_ERROR(txn.Get(dbi, key, &v));
    return Parse(v, row);
  }
  template <class Row>
  Status ListRows(MDB_dbi dbi, std::vector<Row>* rows) const {
    rows->clear();
    return env_->View([&](Txn& txn) {
      Cursor c(txn, dbi);
      RPFS_RETURN_IF_ERROR(c.First());
      while (c.valid()) {
        rows->emplace_back();
        RPFS_RETURN_IF_ERROR(Parse(c.value(), &rows->back()));
        RPFS_RETURN_IF_ERROR(c.Next());
      }
      return Status::OK();
    });
  }
  template <class Row>
  static Status Parse(std::string_view v, Row* row) {
    nlohmann::json j = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Status::Corruption("catalog: malformed row");
    try {
      *row = j.get<Row>();
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(std::string("catalog: malformed row: ") + e.what());
    }
    return Status::OK();
  }

  MDB_dbi meta = 0, groups = 0, disks = 0, branches = 0, points = 0, jobs = 0, blocks_db = 0,
          changes = 0, timeline = 0, retired = 0, links = 0, replications = 0, plans = 0;

 private:
  std::unique_ptr<Env> env_;
  std::unique_ptr<BlockMap> blocks_;
};

}  // namespace rpfs::catalog
