// ByteSource: the bytes of one image file, read at offsets. The image
// readers (fs/vmdk/image_reader.h) see files only through it, so the fuzz
// targets can feed them a memory buffer and the import a real file.
//
// ReadAt never reads past size(): a read that would is refused with a
// Corruption naming the file, the structure being read and the offset, so a
// reader that forgot a bounds check still fails cleanly. Thread-compatible:
// const methods may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "journal/status.h"

namespace rpfs::fs {

class ByteSource {
 public:
  explicit ByteSource(std::string name) : name_(std::move(name)) {}
  virtual ~ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  // The name errors use (the path as the user gave it).
  const std::string& name() const { return name_; }
  virtual uint64_t size() const = 0;

  // Exactly n bytes at offset into out. `what` names the structure for
  // the error ("grain table 3").
  Status ReadAt(uint64_t offset, size_t n, char* out, std::string_view what) const;

  // The first offset >= from that may hold data: a file's next data
  // region (SEEK_DATA), size() if only a hole remains. Default: from.
  virtual uint64_t NextData(uint64_t from) const { return from; }
  // The first offset >= from where a hole may start: a file's next hole
  // (SEEK_HOLE), size() if data runs to the end. Default: size().
  virtual uint64_t NextHole(uint64_t /*from*/) const { return size(); }
  // Asks for [offset, offset + n) to be read into memory in the background
  // (a file: POSIX_FADV_WILLNEED), so that a later ReadAt of it finds it
  // there instead of waiting on the disk. Best effort; default: nothing.
  virtual void Prefetch(uint64_t /*offset*/, uint64_t /*n*/) const {}

 protected:
  // Reads n bytes at offset, which the caller has checked lie in the file.
  virtual Status ReadRaw(uint64_t offset, size_t n, char* out) const = 0;
  // ReadRaw of a file source: pread of exactly n bytes from fd (EINTR
  // retried); an error names the file and offset, and an early end of file
  // is Corruption ("file shrank while being read").
  Status ReadFileAt(int fd, uint64_t offset, size_t n, char* out) const;

 private:
  std::string name_;
};

// A view of `bytes`, which must outlive the source.
std::unique_ptr<ByteSource> NewMemorySource(std::string name, std::string_view bytes);

// The size of an open regular file or block device (a block device's
// st_size is 0, so its end is asked for). *regular tells which it is.
// Anything else is InvalidArgument naming `name`. Closes nothing.
Status FileOrDeviceSize(int fd, const std::string& name, uint64_t* size, bool* regular);

// Opens path read-only; `name` is what errors call it.
Status OpenFileSource(const std::string& path, const std::string& name,
                      std::unique_ptr<ByteSource>* out);

}  // namespace rpfs::fs
