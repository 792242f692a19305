#include "tools/sparse_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rpfs::tools {

Status ExportRaw(catalog::Vault& vault, const catalog::Disk& disk, catalog::View view,
                 const std::string& out_path, ExportResult* result,
                 const std::function<void(uint64_t, uint64_t)>& progress) {
  *result = ExportResult();
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::InvalidArgument("cannot create " + out_path + ": " + std::strerror(errno));
  }
  const uint64_t bs = vault.block_size();
  // Adjacent blocks are gathered into one pwrite of up to 1 MiB.
  std::string run;
  uint64_t run_start = 0;
  auto flush = [&]() -> Status {
    size_t done = 0;
    while (done < run.size()) {
      ssize_t n = ::pwrite(fd, run.data() + done, run.size() - done,
                           static_cast<off_t>(run_start + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "write " + out_path);
      done += static_cast<size_t>(n);
    }
    result->data_bytes += run.size();
    run.clear();
    return Status::OK();
  };
  Status s = vault.ScanData(disk.id, view, [&](uint64_t block, const char* data) -> Status {
    uint64_t off = block * bs;
    if (!run.empty() && (off != run_start + run.size() || run.size() >= (1u << 20))) {
      RPFS_RETURN_IF_ERROR(flush());
    }
    if (run.empty()) run_start = off;
    run.append(data, bs);
    if (progress) progress(off + bs, disk.size);
    return Status::OK();
  });
  if (s.ok()) s = flush();
  if (s.ok() && ::ftruncate(fd, static_cast<off_t>(disk.size)) != 0) {
    s = Status::FromErrno(errno, "size " + out_path);
  }
  if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno(errno, "fsync " + out_path);
  ::close(fd);
  if (!s.ok()) ::unlink(out_path.c_str());
  return s;
}

}  // namespace rpfs::tools
