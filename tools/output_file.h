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
// UseDirectWrites() sends big, aligned WriteAt() pieces around the page
// cache (O_DIRECT): an image is written once and made durable at Commit(),
// and copying it into the cache only to flush it back costs more CPU than
// the device time it hides. Pieces that are small or not aligned, and file
// systems that refuse O_DIRECT, take the ordinary path; the bytes are the
// same either way.
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

  // From now on, WriteAt() pieces of at least kDirectMinBytes whose offset,
  // length and memory address are multiples of kDirectAlign bypass the
  // page cache, where the file system allows it.
  static constexpr size_t kDirectAlign = 4096;
  static constexpr size_t kDirectMinBytes = size_t{256} << 10;
  void UseDirectWrites();
  uint64_t direct_bytes() const { return direct_bytes_; }  // written around the cache

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
  int direct_fd_ = -1;  // the same file opened with O_DIRECT, if in use
  uint64_t direct_bytes_ = 0;
  bool committed_ = false;
  uint64_t append_at_ = 0;  // file offset of buffer_[0]
  std::string buffer_;
};

// PATH's directory ("." for a bare name) and file name.
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace rpfs::tools
