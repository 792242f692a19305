// BlockFetch: reads a set of block versions, planned whole, at queue
// depth > 1. What Vault::Read (every FUSE read) and the batched scan
// (catalog/vault_scan.h: exports, failback, replication catch-up) stand on.
//
// Given the versions a request needs, each with where its bytes go, it
// sorts them by record location, joins records that lie near each other in
// a segment file into one read (a stretch: up to 256 KiB and 64 records;
// records of other blocks up to 32 KiB between two are read and dropped,
// which costs less than another request), issues every stretch at once
// (journal/read_queue.h), then checks and decodes each record, on every
// core when asked. Stored (uncompressed) payloads land straight in their
// block's place.
//
// Every record gets the checks Vault::ReadBlock makes: crc, the seal in an
// encrypted vault, that it is the version the index names
// (CheckBlockRecord), that its payload decodes to one block. A record the
// batch could not read or check (one still in the journal's append
// buffer, a short read, any mismatch) is read once more alone by
// Vault::ReadBlock, which reads the buffer or says what is wrong: never
// wrong bytes.
//
// The caller holds the vault's segments (Vault::HoldSegments) from the
// index lookups until Read returns. Not thread-safe: one per thread; it
// keeps its buffers (capacity only grows) across calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "catalog/block_map.h"
#include "journal/read_queue.h"

namespace rpfs::catalog {

class Vault;

class BlockFetch {
 public:
  // Records of other blocks or disks a read may cover to join two
  // stretches: copying 32 KiB costs less than another request. So records
  // this close count as one run (catalog/vault_defrag.cc too).
  static constexpr uint64_t kMaxGap = uint64_t{32} << 10;

  struct Entry {
    uint64_t block;
    FoundBlock found;  // found, not kZero
    char* out;         // block size bytes
  };

  // Reads entries [0, n) of the vault's disk. On an error, *failed is the index of the
  // entry that failed (every other entry before it in the given order holds
  // its bytes) and the status is Vault::ReadBlock's for it.
  // decode_on_pool: check and decode on every core (big batches).
  Status Read(Vault& vault, uint32_t disk, const Entry* entries, size_t n, bool decode_on_pool,
              size_t* failed);

 private:
  struct Stretch {  // one read: records order_[first, end) of one segment file
    uint32_t segment;
    uint64_t offset;  // in the file
    uint64_t size;
    size_t first, end;
    size_t buffer_at = 0;  // where its bytes go in raw_
    size_t iov_at = 0;     // its iovecs in iovs_
    bool in_place = false; // stored payloads read into their blocks
  };

  const journal::RecordLocation& Loc(uint32_t e) const { return entries_[e].found.version.loc; }
  bool StoredInPlace(uint32_t e) const;
  void PlanStretches();
  void PlanIovecs(Stretch& s, int fd, journal::ReadRequest* req);
  void CheckStretch(size_t i, int64_t result);
  bool CheckAndDecode(const Entry& en, const char* record, const char* payload, char* block) const;

  Vault* vault_ = nullptr;  // during Read only
  uint32_t disk_ = 0;
  uint64_t bs_ = 0;
  const Entry* entries_ = nullptr;
  std::vector<char> done_;         // per entry: checked and decoded
  std::vector<uint32_t> order_;    // entries by record location
  std::vector<Stretch> stretches_;
  std::vector<iovec> iovs_;
  std::vector<journal::ReadRequest> requests_;
  std::string raw_;                // a group's stretch bytes, but stored payloads
};

}  // namespace rpfs::catalog
