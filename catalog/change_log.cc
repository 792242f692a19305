#include "catalog/change_log.h"

#include <algorithm>

#include "journal/coding.h"

namespace rpfs::catalog {
namespace {

constexpr size_t kChangeKeySize = 16;

std::string ChangeKey(uint32_t disk, uint32_t branch, uint64_t max_seq) {
  std::string k(kChangeKeySize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(k.data());
  PutBE32(p, disk);
  PutBE32(p + 4, branch);
  PutBE64(p + 8, max_seq);
  return k;
}

struct RowKey {
  uint32_t disk = 0, branch = 0;
  uint64_t max_seq = 0;
};

bool DecodeChangeKey(std::string_view s, RowKey* k) {
  if (s.size() != kChangeKeySize) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  k->disk = GetBE32(p);
  k->branch = GetBE32(p + 4);
  k->max_seq = GetBE64(p + 8);
  return true;
}

// Decodes a row's value, calling fn per entry; fn returns false to stop.
template <class Fn>
Status DecodeRow(std::string_view value, uint64_t* min_seq, Fn&& fn) {
  const char* p = value.data();
  const char* end = p + value.size();
  uint64_t count, block = 0;
  if (!GetVarint64(&p, end, min_seq) || !GetVarint64(&p, end, &count)) {
    return Status::Corruption("catalog: malformed change log row");
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta, seq_delta;
    if (!GetVarint64(&p, end, &delta) || !GetVarint64(&p, end, &seq_delta)) {
      return Status::Corruption("catalog: malformed change log row");
    }
    block += delta;
    if (!fn(ChangeEntry{block, *min_seq + seq_delta})) break;
  }
  return Status::OK();
}

}  // namespace

Status PutChangeRow(Txn& txn, MDB_dbi dbi, uint32_t disk, uint32_t branch,
                    std::vector<ChangeEntry> changes) {
  if (changes.empty()) return Status::OK();
  std::sort(changes.begin(), changes.end(), [](const ChangeEntry& a, const ChangeEntry& b) {
    return a.block != b.block ? a.block < b.block : a.seq > b.seq;
  });
  uint64_t min_seq = changes[0].seq, max_seq = changes[0].seq;
  for (const ChangeEntry& c : changes) {
    min_seq = std::min(min_seq, c.seq);
    max_seq = std::max(max_seq, c.seq);
  }
  std::string v;
  v.reserve(changes.size() * 4 + 16);
  PutVarint64(&v, min_seq);
  PutVarint64(&v, changes.size());
  uint64_t prev = 0;
  for (const ChangeEntry& c : changes) {
    PutVarint64(&v, c.block - prev);
    PutVarint64(&v, c.seq - min_seq);
    prev = c.block;
  }
  return txn.Put(dbi, ChangeKey(disk, branch, max_seq), v);
}

Status AppendChangeRows(Txn& txn, MDB_dbi dbi, const std::map<BlockKey, BlockVersion>& entries) {
  std::vector<ChangeEntry> row;
  auto it = entries.begin();
  while (it != entries.end()) {
    const uint32_t disk = it->first.disk, branch = it->first.branch;
    row.clear();
    for (; it != entries.end() && it->first.disk == disk && it->first.branch == branch; ++it) {
      row.push_back(ChangeEntry{it->first.block, it->first.seq});
    }
    RPFS_RETURN_IF_ERROR(PutChangeRow(txn, dbi, disk, branch, std::move(row)));
    row = {};
  }
  return Status::OK();
}

Status ForEachChange(Txn& txn, MDB_dbi dbi, uint32_t disk, uint32_t branch, uint64_t lo,
                     uint64_t hi, const std::function<Status(const ChangeEntry&)>& fn) {
  if (lo >= hi) return Status::OK();
  Cursor c(txn, dbi);
  RPFS_RETURN_IF_ERROR(c.SeekAtLeast(ChangeKey(disk, branch, lo + 1)));
  while (c.valid()) {
    RowKey k;
    if (!DecodeChangeKey(c.key(), &k)) return Status::Corruption("catalog: malformed change log key");
    if (k.disk != disk || k.branch != branch) break;
    uint64_t min_seq = 0;
    Status inner;
    bool past = false;
    RPFS_RETURN_IF_ERROR(DecodeRow(c.value(), &min_seq, [&](const ChangeEntry& e) {
      if (min_seq > hi) {
        past = true;
        return false;
      }
      if (e.seq > lo && e.seq <= hi) inner = fn(e);
      return inner.ok();
    }));
    RPFS_RETURN_IF_ERROR(inner);
    if (past) break;
    RPFS_RETURN_IF_ERROR(c.Next());
  }
  return Status::OK();
}

Status TruncateChangesAfter(Txn& txn, MDB_dbi dbi, uint64_t last) {
  // Rows are keyed by max seq within each (disk, branch): walk them all
  // (a rare repair) and rewrite those reaching past `last`.
  struct Rewrite {
    RowKey key;
    std::vector<ChangeEntry> keep;
  };
  std::vector<Rewrite> rewrites;
  {
    Cursor c(txn, dbi);
    RPFS_RETURN_IF_ERROR(c.First());
    while (c.valid()) {
      RowKey k;
      if (!DecodeChangeKey(c.key(), &k)) return Status::Corruption("catalog: malformed change log key");
      if (k.max_seq > last) {
        Rewrite r{k, {}};
        uint64_t min_seq;
        RPFS_RETURN_IF_ERROR(DecodeRow(c.value(), &min_seq, [&](const ChangeEntry& e) {
          if (e.seq <= last) r.keep.push_back(e);
          return true;
        }));
        rewrites.push_back(std::move(r));
      }
      RPFS_RETURN_IF_ERROR(c.Next());
    }
  }
  for (Rewrite& r : rewrites) {
    RPFS_RETURN_IF_ERROR(txn.Del(dbi, ChangeKey(r.key.disk, r.key.branch, r.key.max_seq)));
    RPFS_RETURN_IF_ERROR(PutChangeRow(txn, dbi, r.key.disk, r.key.branch, std::move(r.keep)));
  }
  return Status::OK();
}

Status BuildChangeLog(Txn& txn, MDB_dbi blocks, MDB_dbi changes, size_t row_entries) {
  // Gather each (disk, branch)'s versions, then cut them into rows of
  // consecutive seq ranges so the query's ordering argument holds.
  auto flush = [&](uint32_t disk, uint32_t branch, std::vector<ChangeEntry>& all) -> Status {
    std::sort(all.begin(), all.end(),
              [](const ChangeEntry& a, const ChangeEntry& b) { return a.seq < b.seq; });
    size_t i = 0;
    while (i < all.size()) {
      size_t n = std::min(row_entries, all.size() - i);
      // Never split one seq (one write call) across rows.
      while (i + n < all.size() && all[i + n].seq == all[i + n - 1].seq) ++n;
      std::vector<ChangeEntry> row(all.begin() + static_cast<ptrdiff_t>(i),
                                   all.begin() + static_cast<ptrdiff_t>(i + n));
      RPFS_RETURN_IF_ERROR(PutChangeRow(txn, changes, disk, branch, std::move(row)));
      i += n;
    }
    all.clear();
    return Status::OK();
  };
  std::vector<ChangeEntry> all;
  uint32_t disk = 0, branch = 0;
  Cursor c(txn, blocks);
  RPFS_RETURN_IF_ERROR(c.First());
  while (c.valid()) {
    BlockKey k;
    if (!DecodeBlockKey(c.key(), &k)) return Status::Corruption("catalog: malformed block map key");
    if (!all.empty() && (k.disk != disk || k.branch != branch)) {
      RPFS_RETURN_IF_ERROR(flush(disk, branch, all));
    }
    disk = k.disk;
    branch = k.branch;
    all.push_back(ChangeEntry{k.block, k.seq});
    RPFS_RETURN_IF_ERROR(c.Next());
  }
  return flush(disk, branch, all);
}

}  // namespace rpfs::catalog
