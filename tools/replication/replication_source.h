// ReplicationSource: `rpfs replicate`. Ships one group of this vault to a
// target vault's process server (tools/replication/replication_target.h), in write
// order, and keeps following the journal as writes arrive.
//
// A session pairs (tools/replication/pairing.h), sends the group's policy and disks,
// and learns from the target how far its link got (ReplicaLink). Then:
//
//   - catch-up, when the journal cannot be followed from there (a new
//     link on a vault whose early segments compaction already rewrote, or
//     a target that fell behind the retention horizon): the blocks that
//     differ between the target's state and each of the group's points in
//     turn, then the newest durable state (Vault::DiffBlocks: O(changed
//     blocks)), in (disk, block) order, resumable at any batch;
//   - following: the journal's records from a position (JournalTail),
//     each write call of the group's disks on its active branch kept
//     whole, each point marker ending a batch and followed by the point.
//
// Only durable records are shipped (Vault::DurableMark), so the target
// never holds a write the source could lose in a crash. Up to `window`
// batches are in flight; each ack moves the source's Replication row
// (once a second): its follow position pins the journal against
// compaction. A lost connection is retried with backoff from where the
// target's link stands, so nothing is skipped or applied twice; a refusal
// (wrong passphrase, a group that is not this vault's replica there) ends
// the run. `once` stops when the target holds everything durable at start.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "catalog/vault.h"

namespace rpfs::tools {

struct ReplicateOptions {
  std::string group;
  std::string target;      // HOST:PORT
  std::string passphrase;  // the target vault's
  bool once = false;
  bool json = false;       // a JSON status line a second (and at the end) on out
  bool progress = false;   // a progress line on a terminal (err)
  std::function<bool()> cancelled;  // polled; true ends the run
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  size_t batch_bytes = 4u << 20;  // stored payload bytes per batch, about
  uint64_t max_rate = 0;          // payload bytes per second on the wire (0: no cap)
  size_t window = 8;              // batches in flight
  int timeout_ms = 30000;         // connect, handshake, an ack
  int retry_max_ms = 5000;        // backoff cap between sessions
};

struct ReplicateReport {
  uint64_t sessions = 0;
  uint64_t batches = 0;
  uint64_t records = 0;
  uint64_t payload_bytes = 0;  // stored bytes shipped
  uint64_t logical_bytes = 0;  // disk bytes they stand for
  uint64_t acked_seq = 0;
  std::string chain;           // the link's chain at the last ack
};

// Runs until cancelled, a refusal, or (once) caught up.
Status RunReplication(catalog::Vault& vault, const ReplicateOptions& options,
                      ReplicateReport* report);

}  // namespace rpfs::tools
