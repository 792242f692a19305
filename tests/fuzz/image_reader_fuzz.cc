// libFuzzer target: a sparse or streamOptimized extent read from a memory
// buffer (fs/vmdk/extent_readers.h OpenSparseImage: header, footer, grain
// directories, tables, markers, embedded descriptor, then every grain,
// inflated). Besides crashes and sanitizer reports, an image that opens
// must stream runs that keep ImageReader's promises.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/extent_readers.h"
#include "fs/vmdk/image_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<rpfs::fs::ImageReader> r;
  rpfs::Status s = rpfs::fs::OpenSparseImage(rpfs::fs::NewMemorySource("fuzz.vmdk", bytes), &r);
  if (!s.ok()) {
    if (s.message().empty() || s.message().find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  const uint64_t capacity = r->capacity();
  if (capacity == 0 || capacity > rpfs::fs::kMaxImageCapacity) __builtin_trap();
  uint64_t next = 0;
  unsigned sum = 0;
  for (;;) {
    rpfs::fs::ImageRun run;
    bool end = false;
    if (!r->Next(&run, &end).ok() || end) break;
    if (run.size == 0 || run.size > rpfs::fs::kMaxRunBytes || run.offset < next ||
        run.offset > capacity || run.size > capacity - run.offset) {
      __builtin_trap();
    }
    // Touch every byte, so the sanitizers see a run that is not all there.
    for (size_t i = 0; i < run.size; ++i) sum += static_cast<unsigned char>(run.data[i]);
    next = run.offset + run.size;
  }
  return static_cast<int>(sum & 0);
}
