#include "catalog/catalog.h"

#include "journal/coding.h"

namespace rpfs::catalog {

std::string BigEndianKey32(uint32_t v) {
  std::string s(4, '\0');
  PutBE32(reinterpret_cast<uint8_t*>(s.data()), v);
  return s;
}

std::string BigEndianKey64(uint64_t v) {
  std::string s(8, '\0');
  PutBE64(reinterpret_cast<uint8_t*>(s.data()), v);
  return s;
}

Status Catalog::Open(const std::string& dir, size_t initial_map_size,
                     std::unique_ptr<Catalog>* out) {
  std::unique_ptr<Catalog> c(new Catalog);
  Env::Options o;
  o.initial_map_size = initial_map_size;
  RPFS_RETURN_IF_ERROR(Env::Open(dir, o, &c->env_));
  struct {
    const char* name;
    MDB_dbi* dbi;
  } dbs[] = {{"meta", &c->meta},         {"groups", &c->groups}, {"disks", &c->disks},
             {"branches", &c->branches}, {"points", &c->points}, {"jobs", &c->jobs},
             {"blocks", &c->blocks_db},  {"timeline", &c->timeline},
             {"changes", &c->changes},   {"retired", &c->retired},
             {"links", &c->links},       {"replications", &c->replications},
             {"plans", &c->plans}};
  for (auto& db : dbs) RPFS_RETURN_IF_ERROR(c->env_->OpenDb(db.name, db.dbi));
  c->blocks_ = std::make_unique<BlockMap>(c->env_.get(), c->blocks_db, c->changes);
  *out = std::move(c);
  return Status::OK();
}

Status Catalog::LoadMeta(VaultMeta* m) const {
  return env_->View([&](Txn& txn) { return LoadMeta(txn, m); });
}

Status Catalog::LoadMeta(const Txn& txn, VaultMeta* m) const {
  std::string_view v;
  RPFS_RETURN_IF_ERROR(txn.Get(meta, "vault", &v));
  nlohmann::json j = nlohmann::json::parse(v, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("catalog: malformed vault meta");
  try {
    m->format = j.at("format");
    std::string id = j.at("id");
    if (id.size() != 32) return Status::Corruption("catalog: malformed vault id");
    for (int i = 0; i < 16; ++i) {
      m->id.bytes[i] = static_cast<uint8_t>(std::stoul(id.substr(2 * i, 2), nullptr, 16));
    }
    m->block_size = j.at("block_size");
    m->compression_level = j.at("compression_level");
    m->max_segment_bytes = j.at("max_segment_bytes");
    m->created_ns = j.at("created_ns");
    m->indexed_seq = j.at("indexed_seq");
    m->indexed_pos.segment = j.at("indexed_segment");
    m->indexed_pos.offset = j.at("indexed_offset");
    m->next_disk_id = j.at("next_disk_id");
    m->next_branch_id = j.at("next_branch_id");
    m->next_point_id = j.at("next_point_id");
    m->next_job_id = j.at("next_job_id");
    m->passphrase_hash = j.value("passphrase_hash", "");
    m->live_bytes = j.value("live_bytes", uint64_t{0});
    m->garbage_bytes = j.value("garbage_bytes", uint64_t{0});
    m->compacted_ns = j.value("compacted_ns", uint64_t{0});
    m->reclaimed_bytes = j.value("reclaimed_bytes", uint64_t{0});
    m->max_size = j.value("max_size", uint64_t{0});
    m->data_key = j.value("data_key", "");
    m->seal_epoch = j.value("seal_epoch", uint32_t{0});
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("catalog: malformed vault meta: ") + e.what());
  }
  return Status::OK();
}

Status Catalog::PeekMeta(const std::string& dir, VaultMeta* m) {
  MDB_env* env;
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_env_create(&env), "create env"));
  struct Closer {
    MDB_env* env;
    MDB_txn* txn = nullptr;
    ~Closer() {
      if (txn != nullptr) mdb_txn_abort(txn);
      mdb_env_close(env);
    }
  } closer{env};
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_env_set_maxdbs(env, 16), "set maxdbs"));
  RPFS_RETURN_IF_ERROR(
      LmdbStatus(mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0644), "open " + dir));
  RPFS_RETURN_IF_ERROR(
      LmdbStatus(mdb_txn_begin(env, nullptr, MDB_RDONLY, &closer.txn), "begin read"));
  MDB_dbi dbi;
  RPFS_RETURN_IF_ERROR(LmdbStatus(mdb_dbi_open(closer.txn, "meta", 0, &dbi), "open database meta"));
  Catalog reader;  // LoadMeta needs the meta handle only
  reader.meta = dbi;
  return reader.LoadMeta(Txn(closer.txn), m);
}

Status Catalog::PutMeta(Txn& txn, const VaultMeta& m) {
  nlohmann::json j = {{"format", m.format},
                      {"id", m.id.ToHex()},
                      {"block_size", m.block_size},
                      {"compression_level", m.compression_level},
                      {"max_segment_bytes", m.max_segment_bytes},
                      {"created_ns", m.created_ns},
                      {"indexed_seq", m.indexed_seq},
                      {"indexed_segment", m.indexed_pos.segment},
                      {"indexed_offset", m.indexed_pos.offset},
                      {"next_disk_id", m.next_disk_id},
                      {"next_branch_id", m.next_branch_id},
                      {"next_point_id", m.next_point_id},
                      {"next_job_id", m.next_job_id},
                      {"passphrase_hash", m.passphrase_hash},
                      {"data_key", m.data_key},
                      {"seal_epoch", m.seal_epoch},
                      {"live_bytes", m.live_bytes},
                      {"garbage_bytes", m.garbage_bytes},
                      {"compacted_ns", m.compacted_ns},
                      {"reclaimed_bytes", m.reclaimed_bytes},
                      {"max_size", m.max_size}};
  return txn.Put(meta, "vault", j.dump());
}

Status Catalog::ListRetired(std::vector<uint32_t>* segments) const {
  segments->clear();
  return env_->View([&](Txn& txn) {
    Cursor c(txn, retired);
    RPFS_RETURN_IF_ERROR(c.First());
    while (c.valid()) {
      if (c.key().size() != 4) return Status::Corruption("catalog: malformed retired segment key");
      segments->push_back(GetBE32(reinterpret_cast<const uint8_t*>(c.key().data())));
      RPFS_RETURN_IF_ERROR(c.Next());
    }
    return Status::OK();
  });
}

}  // namespace rpfs::catalog
