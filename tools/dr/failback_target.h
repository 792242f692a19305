// FailbackTarget: an on-premises disk image that `rpfs failback` updates in
// place, so that only the blocks that differ are written: a raw image (a
// file or block device), a monolithicFlat or vmfs descriptor with one FLAT
// or VMFS extent, or a monolithicSparse VMDK.
//
// The file is hostile input: Open() checks all its metadata through the
// readers of `rpfs disk import` (fs/) before anything is written, and
// refuses what it cannot update in place without rewriting the file
// (streamOptimized, split or multi-extent disks, child disks, sparse
// files whose grain tables are not all allocated). Every error is one line
// naming the file, the structure and the offset.
//
// Crash safety. Raw and flat writes land where they belong. A sparse write
// into an unallocated grain extends the file by a grain (a hole, which
// reads as zeros), writes the data into it, and records the new grain
// table entry in memory; the entries reach the file at Sync() (or when
// many are pending): fdatasync, then the redundant table's entries,
// fdatasync, then the primary's. A kill at any point therefore leaves
// every table entry either as it was or pointing at a grain whose data is
// on disk; a grain appended but not yet entered is leaked space, and a
// rerun of the same writes appends it again. Only writes before a
// successful Sync() are durable. The destructor syncs pending entries too,
// but cannot report errors.
//
// Not thread-safe: one writer. Memory: a sparse target caches up to 4096
// grain tables (8 MiB) and the pending entries (bounded likewise).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "journal/status.h"

namespace rpfs::tools {

class FailbackTarget {
 public:
  virtual ~FailbackTarget() = default;

  // Opens PATH read-write, telling the format from its content: the KDMV
  // magic is a sparse VMDK, a text descriptor a flat one, anything else
  // raw. InvalidArgument for what cannot be updated in place, Corruption
  // for malformed metadata.
  static Status Open(const std::string& path, std::unique_ptr<FailbackTarget>* out);

  virtual uint64_t size() const = 0;       // virtual disk bytes
  virtual std::string format() const = 0;  // "raw", "vmdk-flat", "vmdk-sparse"

  // n bytes of the disk at offset (unallocated grains read as zeros).
  virtual Status Read(uint64_t offset, size_t n, char* out) = 0;
  // Writes n bytes at offset in place. Sparse: an allocated grain is
  // overwritten where it lies; the first write into an unallocated (or
  // zeroed) grain allocates a grain at the end of the file, and later
  // writes into that grain land in it; all-zero data into an unallocated
  // grain writes nothing.
  virtual Status Write(uint64_t offset, const char* data, size_t n) = 0;
  // Makes every Write before it durable (and, sparse, reachable).
  virtual Status Sync() = 0;

  // Bytes written to the file(s) so far: disk data, and metadata (grain
  // table entries, both copies).
  virtual uint64_t data_bytes_written() const = 0;
  virtual uint64_t metadata_bytes_written() const = 0;
};

// Tests only: called before every write, truncate and fdatasync a target
// makes, with what it is for ("data", "new grain", "redundant grain
// table", "grain table", "sync"), so a test can kill the process at each
// point. Process-wide; an empty function clears it.
void SetFailbackTargetHookForTesting(std::function<void(std::string_view what)> hook);

}  // namespace rpfs::tools
