// Shared test helpers: scratch directories, running the rpfs binary, and
// byte-level file surgery (truncate, flip) for corruption tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rpfs::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the rpfs binary with args (no shell), with env entries "K=V" added.
CliResult RunRpfs(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
// Runs any program found on PATH (argv[0]), no shell. One that cannot be
// started exits 127 with the reason in err.
CliResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
// Starts a program in the background with stdout/stderr to files;
// returns its pid, or -1 if it could not be started.
pid_t SpawnProgram(const std::vector<std::string>& argv, const std::string& out_path,
                   const std::string& err_path, const std::vector<std::string>& env = {});

std::string ReadFile(const std::string& path);
// The SHA-256 of bytes, as 64 lower-case hex digits (as sha256sum prints it).
std::string Sha256Hex(const std::string& bytes);
void WriteFile(const std::string& path, const std::string& data);
uint64_t FileSize(const std::string& path);
// How many pages of path's [0, n) are in the page cache (mincore); 0 if
// the file cannot be mapped.
size_t ResidentPages(const std::string& path, size_t n);
// Page-cache state of path's [0, n) in pages, from cachestat(2) (Linux
// 6.5): cached, dirty (not yet handed to writeback), under writeback.
struct CacheState {
  uint64_t cached = 0, dirty = 0, writeback = 0;
};
// Throws if the file cannot be opened or the kernel lacks cachestat.
CacheState CacheStat(const std::string& path, uint64_t n);
void TruncateFile(const std::string& path, uint64_t size);
void FlipBit(const std::string& path, uint64_t offset, int bit);
// Copies a directory tree (cp -a).
void CopyTree(const std::string& from, const std::string& to);
// True if a file system is mounted at mnt (or at what it resolves to),
// per /proc/self/mountinfo.
bool IsMounted(const std::string& mnt);
// Waits until path exists (a pid file a script writes); false after timeout_ms.
bool WaitForFile(const std::string& path, int timeout_ms = 30000);

// Fills out[0, n) (n a multiple of 8) with bytes that are a function of
// (block, seq) alone: a model of a disk keeps which seq wrote each block,
// not the data.
void FillVersion(uint64_t block, uint64_t seq, char* out, size_t n);

}  // namespace rpfs::testing
