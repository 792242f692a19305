// A file an export writes: it is built as PATH.tmp and only renamed to PATH
// once complete and fsynced, so PATH never holds a half-written image (an
// existing PATH is replaced only on success). If Commit() is never reached
// (an error, an exception), the destructor removes PATH.tmp.
//
// Writes go straight to the file with pwrite, except Append(), which packs
// small sequential pieces (stream markers, compressed grains) into 1 MiB
// writes at the append position. WriteAt() and Append() must not target the
// same bytes.
//
// SyncInBackground() has a thread of the file's own fdatasync it every
// kSyncStepBytes written by WriteAt() (appends included), while the
// caller goes on writing: a big image then goes to the disk, and past the
// disk's own write cache, while it is being made, and the fsync in
// Commit() finds little left to do instead of all of it, as the journal's
// sealer does for segments. A failed background sync fails the next
// WriteAt() and Commit(). (Measured on a 2 GiB raw export, half data, on
// this project's virtio disk: 0.92 s against 1.26 s for the earlier way,
// sync_file_range(SYNC_FILE_RANGE_WRITE) every 8 MiB: that started the
// writes early but left the whole cache flush to the final fsync. O_DIRECT
// writes by kernel AIO, tried before that, were slower than both.) After
// each background sync the file's clean pages are dropped from the page
// cache (POSIX_FADV_DONTNEED), so a big export cycles through a little
// memory instead of filling it.
//
// Errors name PATH.tmp and the offset. Not thread-safe: one writer (the
// background syncer is the file's own).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "journal/status.h"

namespace rpfs::tools {

class OutputFile {
 public:
  // Creates (or truncates) path + ".tmp". A path that cannot be created is
  // InvalidArgument: the user named a place we cannot write.
  static Status Create(const std::string& path, std::unique_ptr<OutputFile>* out);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& tmp_path() const { return tmp_path_; }

  Status WriteAt(uint64_t offset, const void* data, size_t n);

  // From now on, every `step` bytes written are synced in the background.
  static constexpr uint64_t kSyncStepBytes = uint64_t{64} << 20;
  void SyncInBackground(uint64_t step = kSyncStepBytes) { sync_step_ = step; }
  // Background syncs finished so far.
  uint64_t background_syncs() const;

  // Appends at append_offset() (initially 0; see SetAppendOffset).
  Status Append(const void* data, size_t n);
  Status AppendZeros(size_t n);
  uint64_t append_offset() const { return append_at_ + buffer_.size(); }
  // Moves the append position (after flushing what is buffered).
  Status SetAppendOffset(uint64_t offset);
  Status Flush();

  // Sets the file's length (after flushing).
  Status Truncate(uint64_t size);

  // Flushes, fsyncs, renames PATH.tmp to PATH and fsyncs the directory.
  Status Commit();
  // A file written by appends: cut at append_offset() (anything written
  // beyond it goes), then Commit(); *size is the file's length.
  Status CommitAppended(uint64_t* size);

 private:
  OutputFile(std::string path, int fd);

  std::string path_;
  std::string tmp_path_;
  int fd_;
  bool committed_ = false;
  // Background syncs (SyncInBackground): the thread starts at the first.
  void SyncerLoop();
  Status StopSyncer();  // joins the thread; the first failed sync's Status
  uint64_t sync_step_ = 0;  // 0: none
  uint64_t unsynced_bytes_ = 0;  // written since the last sync was asked for
  std::thread syncer_;
  mutable std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool sync_wanted_ = false, sync_stop_ = false;
  uint64_t syncs_done_ = 0;
  Status sync_status_;
  uint64_t append_at_ = 0;  // file offset of buffer_[0]
  std::string buffer_;
};

// PATH's directory ("." for a bare name) and file name.
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace rpfs::tools
