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
// UseWriteBehind() starts the device writing what WriteAt() wrote as soon
// as kWriteBehindBytes have gathered (sync_file_range), as the journal
// does: a big image then streams to the disk while it is being made, and
// the fsync in Commit() finds little left to do, instead of all of it.
// (Tried instead: O_DIRECT with up to 8 writes of up to 4 MiB in flight by
// kernel AIO. For the raw export of a 2 GiB image, half data, on a virtio
// disk it was slower than this, so the simpler way stays.)
//
// Errors name PATH.tmp and the offset. Not thread-safe: one writer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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

  // From now on, every kWriteBehindBytes written start their writeback.
  static constexpr uint64_t kWriteBehindBytes = uint64_t{8} << 20;
  void UseWriteBehind() { write_behind_ = true; }

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

 private:
  OutputFile(std::string path, int fd);

  std::string path_;
  std::string tmp_path_;
  int fd_;
  bool committed_ = false;
  bool write_behind_ = false;
  // What WriteAt wrote since the last writeback was started.
  uint64_t behind_from_ = UINT64_MAX, behind_to_ = 0, behind_bytes_ = 0;
  uint64_t append_at_ = 0;  // file offset of buffer_[0]
  std::string buffer_;
};

// PATH's directory ("." for a bare name) and file name.
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace rpfs::tools
