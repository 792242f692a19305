// Test helpers for VMDK import: images made by qemu-img and qemu-io, the
// sparse header's fields, byte surgery at named structures, and a
// converter from qemu-img's streamOptimized layout to VMware's (grain
// tables and directory after the grains, footer, end-of-stream marker).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace rpfs::testing {

// Runs argv; a failure names the command and its stderr.
inline ::testing::AssertionResult Ran(const std::vector<std::string>& argv) {
  CliResult r = RunProgram(argv);
  if (r.exit_code == 0) return ::testing::AssertionSuccess();
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  return ::testing::AssertionFailure() << cmd << "exited " << r.exit_code << ": " << r.err;
}

// A VMDK of `subformat` at path, `size` bytes, written with qemu-io
// commands ("write -P 0x11 0 1M", "write -z 8M 2M"). streamOptimized cannot
// be written in place: it is filled as monolithicSparse, then converted.
inline ::testing::AssertionResult MakeVmdk(const std::string& path, const std::string& subformat,
                                           uint64_t size, const std::vector<std::string>& writes,
                                           bool zeroed_grain = false) {
  const bool stream = subformat == "streamOptimized";
  const std::string target = stream ? path + ".src.vmdk" : path;
  std::string opts = "subformat=" + std::string(stream ? "monolithicSparse" : subformat);
  if (zeroed_grain) opts += ",zeroed_grain=on";
  auto r = Ran({"qemu-img", "create", "-q", "-f", "vmdk", "-o", opts, target, std::to_string(size)});
  if (!r) return r;
  std::vector<std::string> io = {"qemu-io", "-f", "vmdk"};
  for (const auto& w : writes) {
    io.push_back("-c");
    io.push_back(w);
  }
  io.push_back(target);
  if (!writes.empty() && !(r = Ran(io))) return r;
  if (stream) {
    r = Ran({"qemu-img", "convert", "-f", "vmdk", "-O", "vmdk", "-o", "subformat=streamOptimized",
             target, path});
    ::unlink(target.c_str());
  }
  return r;
}

inline uint64_t LoadLE(const std::string& path, uint64_t offset, int bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  unsigned char b[8] = {};
  ssize_t n = fd < 0 ? -1 : ::pread(fd, b, bytes, static_cast<off_t>(offset));
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(n, bytes) << path << " offset " << offset;
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | b[i];
  return v;
}

inline void StoreLE(const std::string& path, uint64_t offset, uint64_t v, int bytes) {
  unsigned char b[8];
  for (int i = 0; i < bytes; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : ::pwrite(fd, b, bytes, static_cast<off_t>(offset));
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(n, bytes) << path << " offset " << offset;
}

inline void StoreBytes(const std::string& path, uint64_t offset, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(n, static_cast<ssize_t>(bytes.size())) << path << " offset " << offset;
}

// A hosted sparse header's fields (offsets in sectors, as stored).
struct SparseFields {
  uint32_t flags = 0;
  uint64_t capacity = 0, grain = 0, desc_offset = 0, desc_size = 0;
  uint32_t gtes = 0;
  uint64_t rgd = 0, gd = 0, overhead = 0;

  uint64_t gd_entries() const { return (capacity + grain * gtes - 1) / (grain * gtes); }
  // Byte offset of directory entry i, of the primary or the redundant directory.
  uint64_t GdEntryAt(bool redundant, uint64_t i) const { return (redundant ? rgd : gd) * 512 + 4 * i; }
};

inline SparseFields ReadSparseFields(const std::string& path, uint64_t at = 0) {
  SparseFields f;
  f.flags = static_cast<uint32_t>(LoadLE(path, at + 8, 4));
  f.capacity = LoadLE(path, at + 12, 8);
  f.grain = LoadLE(path, at + 20, 8);
  f.desc_offset = LoadLE(path, at + 28, 8);
  f.desc_size = LoadLE(path, at + 36, 8);
  f.gtes = static_cast<uint32_t>(LoadLE(path, at + 44, 4));
  f.rgd = LoadLE(path, at + 48, 8);
  f.gd = LoadLE(path, at + 56, 8);
  f.overhead = LoadLE(path, at + 64, 8);
  return f;
}

// Byte offset of grain table `table`'s entry `entry` through either directory.
inline uint64_t GteAt(const std::string& path, const SparseFields& f, bool redundant,
                      uint64_t table, uint64_t entry) {
  return LoadLE(path, f.GdEntryAt(redundant, table), 4) * 512 + 4 * entry;
}

// Sets a grain table entry in the table and in its redundant copy.
inline void SetGte(const std::string& path, const SparseFields& f, uint64_t table, uint64_t entry,
                   uint32_t value) {
  StoreLE(path, GteAt(path, f, false, table, entry), value, 4);
  if (f.flags & 2) StoreLE(path, GteAt(path, f, true, table, entry), value, 4);
}

inline std::string Marker(uint64_t value, uint32_t type) {
  std::string m(512, '\0');
  for (int i = 0; i < 8; ++i) m[i] = static_cast<char>(value >> (8 * i));
  for (int i = 0; i < 4; ++i) m[12 + i] = static_cast<char>(type >> (8 * i));
  return m;
}

// Rewrites a qemu-img streamOptimized file (header with a real gdOffset,
// tables up front, no footer) the way VMware lays one out: a grain table
// marker and table for every table after the grains, then the directory
// marker and directory, the footer marker, the footer (the header with the
// real gdOffset) and the end-of-stream marker; the header's gdOffset
// becomes GD_AT_END and the redundant directory is dropped.
inline void ConvertToFooterStream(const std::string& from, const std::string& to) {
  std::string file = ReadFile(from);
  ASSERT_EQ(file.size() % 512, 0u);
  SparseFields f = ReadSparseFields(from);
  const uint64_t gt_bytes = uint64_t{f.gtes} * 4, gt_sectors = (gt_bytes + 511) / 512;
  std::vector<uint32_t> gd(f.gd_entries());
  for (size_t i = 0; i < gd.size(); ++i) {
    uint64_t gt = LoadLE(from, f.GdEntryAt(false, i), 4);
    if (gt == 0) continue;
    file += Marker(gt_sectors, 1);
    gd[i] = static_cast<uint32_t>(file.size() / 512);
    std::string table = file.substr(gt * 512, gt_bytes);
    table.resize(gt_sectors * 512, '\0');
    file += table;
  }
  const uint64_t gd_sectors = (gd.size() * 4 + 511) / 512;
  file += Marker(gd_sectors, 2);
  const uint64_t gd_at = file.size() / 512;
  std::string dir(gd_sectors * 512, '\0');
  std::memcpy(dir.data(), gd.data(), gd.size() * 4);  // little-endian host
  file += dir;
  file += Marker(1, 3);
  std::string footer = file.substr(0, 512);
  uint32_t flags = f.flags & ~2u;
  std::memcpy(footer.data() + 8, &flags, 4);
  uint64_t zero = 0;
  std::memcpy(footer.data() + 48, &zero, 8);
  std::memcpy(footer.data() + 56, &gd_at, 8);
  file += footer;
  file += Marker(0, 0);
  const uint64_t at_end = ~uint64_t{0};
  std::memcpy(file.data() + 8, &flags, 4);
  std::memcpy(file.data() + 48, &zero, 8);
  std::memcpy(file.data() + 56, &at_end, 8);
  WriteFile(to, file);
}

}  // namespace rpfs::testing
