// Test-side readers of exported VMDK files, written from VMware's "Virtual
// Disk Format 5.0" independently of tools/: they walk an image byte by byte
// and check its structure against the source raw image it was made from.
// qemu-img reads far less strictly (it never walks a stream in order, never
// reads the redundant grain directory), so these catch what it would not.
#pragma once

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace rpfs::testing {

constexpr uint64_t kSector = 512;
constexpr uint64_t kGrain = 64 * 1024;
constexpr uint64_t kGrainSectors = kGrain / kSector;

inline uint32_t Le32(const std::string& b, uint64_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}
inline uint64_t Le64(const std::string& b, uint64_t at) {
  return uint64_t{Le32(b, at + 4)} << 32 | Le32(b, at);
}

// The source's grains that hold a non-zero byte, with their bytes (inside the
// disk: the last grain may be short). Holes are skipped with SEEK_DATA.
inline std::map<uint64_t, std::string> NonZeroGrains(const std::string& path) {
  std::map<uint64_t, std::string> grains;
  const uint64_t size = FileSize(path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return grains;
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) break;
    uint64_t g = static_cast<uint64_t>(data) / kGrain;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    uint64_t end = hole < 0 ? size : static_cast<uint64_t>(hole);
    for (; g * kGrain < end; ++g) {
      std::string bytes(std::min(kGrain, size - g * kGrain), '\0');
      if (::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(g * kGrain)) !=
          static_cast<ssize_t>(bytes.size())) {
        break;
      }
      if (bytes.find_first_not_of('\0') != std::string::npos) grains[g] = std::move(bytes);
    }
    pos = std::max(end, g * kGrain);
  }
  ::close(fd);
  return grains;
}

// The header fields both layouts share; `what` names the copy (header, footer).
inline ::testing::AssertionResult HeaderIs(const std::string& f, uint64_t at, const char* what,
                                           uint32_t version, uint32_t flags, uint64_t capacity,
                                           uint16_t compress) {
  auto fail = [&](const std::string& m) {
    return ::testing::AssertionFailure() << what << ": " << m;
  };
  if (f.compare(at, 4, "KDMV") != 0) return fail("no KDMV magic");
  if (Le32(f, at + 4) != version) return fail("version " + std::to_string(Le32(f, at + 4)));
  if (Le32(f, at + 8) != flags) return fail("flags " + std::to_string(Le32(f, at + 8)));
  if (Le64(f, at + 12) != capacity) return fail("capacity " + std::to_string(Le64(f, at + 12)));
  if (Le64(f, at + 20) != kGrainSectors) return fail("grain size");
  if (Le64(f, at + 28) != 1 || Le64(f, at + 36) != 20) return fail("descriptor place");
  if (Le32(f, at + 44) != 512) return fail("GTEs per GT");
  if (f[at + 72] != 0) return fail("unclean shutdown flag set");
  if (f.compare(at + 73, 4, "\n \r\n") != 0) return fail("new-line detection bytes");
  if ((Le32(f, at + 76) >> 8 & 0xffff) != compress) return fail("compress algorithm");
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult DescriptorNames(const std::string& f, const char* create_type,
                                                  uint64_t capacity, const std::string& name) {
  std::string text = f.substr(kSector, 20 * kSector);
  text = text.substr(0, text.find('\0'));
  const std::string want_type = std::string("createType=\"") + create_type + "\"\n";
  const std::string want_extent =
      "RW " + std::to_string(capacity) + " SPARSE \"" + name + "\"\n";
  if (text.rfind("# Disk DescriptorFile\nversion=1\n", 0) != 0 ||
      text.find(want_type) == std::string::npos || text.find(want_extent) == std::string::npos) {
    return ::testing::AssertionFailure() << "embedded descriptor:\n" << text;
  }
  return ::testing::AssertionSuccess();
}

// monolithicSparse: header, descriptor, both grain directories and every
// grain table identical, grains grain-aligned past the metadata, exactly the
// source's non-zero grains stored, byte for byte, and nothing else in the file.
inline ::testing::AssertionResult SparseLayoutIsSound(const std::string& vmdk,
                                                      const std::string& source) {
  const std::string f = ReadFile(vmdk);
  const uint64_t capacity = FileSize(source) / kSector;
  if (f.size() < kSector) return ::testing::AssertionFailure() << vmdk << " is too short";
  auto h = HeaderIs(f, 0, "header", 1, 0x3, capacity, 0);
  if (!h) return h;
  auto d = DescriptorNames(f, "monolithicSparse", capacity,
                           vmdk.substr(vmdk.find_last_of('/') + 1));
  if (!d) return d;
  const uint64_t grains = (capacity + kGrainSectors - 1) / kGrainSectors;
  const uint64_t tables = (grains + 511) / 512;
  const uint64_t gd_sectors = (tables * 4 + kSector - 1) / kSector;
  const uint64_t rgd = Le64(f, 48), gd = Le64(f, 56), overhead = Le64(f, 64);
  if (rgd != 21 || gd != rgd + gd_sectors + tables * 4 ||
      overhead != (gd + gd_sectors + tables * 4 + kGrainSectors - 1) / kGrainSectors *
                      kGrainSectors) {
    return ::testing::AssertionFailure() << "metadata places rgd " << rgd << " gd " << gd
                                         << " overhead " << overhead;
  }
  const auto want = NonZeroGrains(source);
  std::set<uint64_t> seen_sectors;
  uint64_t stored = 0;
  for (uint64_t t = 0; t < tables; ++t) {
    const uint64_t gt = Le32(f, gd * kSector + 4 * t), rgt = Le32(f, rgd * kSector + 4 * t);
    if (gt < gd + gd_sectors || gt + 4 > overhead || rgt < rgd + gd_sectors || rgt + 4 > gd) {
      return ::testing::AssertionFailure() << "grain table " << t << " at " << gt << "/" << rgt;
    }
    if (f.compare(gt * kSector, 2048, f, rgt * kSector, 2048) != 0) {
      return ::testing::AssertionFailure() << "grain table " << t << " differs from its copy";
    }
    for (uint64_t e = 0; e < 512; ++e) {
      const uint64_t g = t * 512 + e;
      const uint64_t sector = Le32(f, gt * kSector + 4 * e);
      auto w = want.find(g);
      if (sector == 0) {
        if (w != want.end()) return ::testing::AssertionFailure() << "grain " << g << " missing";
        continue;
      }
      if (g >= grains || w == want.end()) {
        return ::testing::AssertionFailure() << "grain " << g << " stored but zero or outside";
      }
      if (sector < overhead || (sector - overhead) % kGrainSectors != 0 ||
          (sector + kGrainSectors) * kSector > f.size() || !seen_sectors.insert(sector).second) {
        return ::testing::AssertionFailure() << "grain " << g << " at bad sector " << sector;
      }
      const std::string& bytes = w->second;
      if (f.compare(sector * kSector, bytes.size(), bytes) != 0 ||
          f.find_first_not_of('\0', sector * kSector + bytes.size()) <
              (sector + kGrainSectors) * kSector) {
        return ::testing::AssertionFailure() << "grain " << g << " bytes differ";
      }
      ++stored;
    }
  }
  if (stored != want.size() || f.size() != (overhead + stored * kGrainSectors) * kSector) {
    return ::testing::AssertionFailure() << stored << " grains stored of " << want.size()
                                         << ", file " << f.size() << " bytes";
  }
  return ::testing::AssertionSuccess();
}

// streamOptimized, walked front to back as a streaming reader would: header
// with GD_AT_END, descriptor, then only grain markers (in increasing LBA
// order, inflating to the source's bytes), each grain table after its
// grains and pointing at them, the grain directory, footer marker, footer
// (the header with the real gdOffset) and the end-of-stream marker last.
inline ::testing::AssertionResult StreamLayoutIsSound(const std::string& vmdk,
                                                      const std::string& source) {
  const std::string f = ReadFile(vmdk);
  const uint64_t disk_bytes = FileSize(source);
  const uint64_t capacity = disk_bytes / kSector;
  auto fail = [&](uint64_t at, const std::string& m) {
    return ::testing::AssertionFailure() << vmdk << " at byte " << at << ": " << m;
  };
  if (f.size() < 4 * kSector || f.size() % kSector != 0) return fail(0, "bad file size");
  auto h = HeaderIs(f, 0, "header", 3, 0x30001, capacity, 1);
  if (!h) return h;
  if (Le64(f, 56) != ~uint64_t{0} || Le64(f, 48) != 0) return fail(48, "gd/rgd offsets");
  auto d = DescriptorNames(f, "streamOptimized", capacity,
                           vmdk.substr(vmdk.find_last_of('/') + 1));
  if (!d) return d;
  const uint64_t tables = ((capacity + kGrainSectors - 1) / kGrainSectors + 511) / 512;
  const uint64_t gd_sectors = (tables * 4 + kSector - 1) / kSector;
  const auto want = NonZeroGrains(source);

  std::map<uint64_t, uint64_t> pending;  // grain -> sector, since the last grain table
  std::vector<uint32_t> gd(tables, 0);
  std::set<uint64_t> written;
  uint64_t last_grain = 0, gd_sector = 0;
  bool any = false, footer = false;
  uint64_t pos = Le64(f, 64) * kSector;
  std::string out(kGrain, '\0');
  while (true) {
    if (pos + kSector > f.size()) return fail(pos, "stream ends without end-of-stream marker");
    const uint64_t value = Le64(f, pos);
    const uint32_t size = Le32(f, pos + 8);
    if (size > 0) {  // a grain
      if (footer || gd_sector) return fail(pos, "grain after the grain directory");
      if (value % kGrainSectors != 0 || value >= capacity) return fail(pos, "grain lba");
      const uint64_t g = value / kGrainSectors;
      if (any && g <= last_grain) return fail(pos, "grains out of order");
      any = true;
      last_grain = g;
      if (pos + 12 + size > f.size()) return fail(pos, "grain data past the end");
      uLongf n = out.size();
      if (uncompress(reinterpret_cast<Bytef*>(out.data()), &n,
                     reinterpret_cast<const Bytef*>(f.data() + pos + 12), size) != Z_OK) {
        return fail(pos, "grain " + std::to_string(g) + " does not inflate");
      }
      auto w = want.find(g);
      if (w == want.end()) return fail(pos, "grain " + std::to_string(g) + " is zero in source");
      if (n != w->second.size() || out.compare(0, n, w->second) != 0) {
        return fail(pos, "grain " + std::to_string(g) + " inflates to other bytes");
      }
      if (!pending.empty() && pending.begin()->first / 512 != g / 512) {
        return fail(pos, "grains of a new table before the last table was written");
      }
      pending[g] = pos / kSector;
      written.insert(g);
      const uint64_t used = 12 + size;
      if (f.find_first_not_of('\0', pos + used) < pos + (used + kSector - 1) / kSector * kSector) {
        return fail(pos, "grain padding is not zero");
      }
      pos += (used + kSector - 1) / kSector * kSector;
      continue;
    }
    const uint32_t type = Le32(f, pos + 12);
    if (f.find_first_not_of('\0', pos + 16) < pos + kSector) return fail(pos, "marker padding");
    if (type == 1) {  // grain table
      if (value != 4 || pending.empty()) return fail(pos, "grain table marker");
      const uint64_t t = pending.begin()->first / 512;
      for (uint64_t e = 0; e < 512; ++e) {
        auto p = pending.find(t * 512 + e);
        if (Le32(f, pos + kSector + 4 * e) != (p == pending.end() ? 0 : p->second)) {
          return fail(pos, "grain table entry " + std::to_string(e) + " of table " +
                               std::to_string(t));
        }
      }
      gd[t] = static_cast<uint32_t>(pos / kSector + 1);
      pending.clear();
      pos += 5 * kSector;
    } else if (type == 2) {  // grain directory
      if (value != gd_sectors || !pending.empty() || gd_sector) return fail(pos, "GD marker");
      for (uint64_t t = 0; t < tables; ++t) {
        if (Le32(f, pos + kSector + 4 * t) != gd[t]) {
          return fail(pos, "GD entry " + std::to_string(t));
        }
      }
      gd_sector = pos / kSector + 1;
      pos += (1 + gd_sectors) * kSector;
    } else if (type == 3) {  // footer
      if (value != 1 || !gd_sector || footer) return fail(pos, "footer marker");
      auto fh = HeaderIs(f, pos + kSector, "footer", 3, 0x30001, capacity, 1);
      if (!fh) return fh;
      if (Le64(f, pos + kSector + 56) != gd_sector) return fail(pos, "footer gdOffset");
      if (f.compare(pos + kSector + 64, 448, f, 64, 448) != 0) return fail(pos, "footer != header");
      footer = true;
      pos += 2 * kSector;
    } else if (type == 0) {  // end of stream
      if (value != 0 || !footer) return fail(pos, "end of stream marker");
      if (pos + kSector != f.size()) return fail(pos, "bytes after end of stream");
      break;
    } else {
      return fail(pos, "unknown marker type " + std::to_string(type));
    }
  }
  if (written.size() != want.size()) {
    return ::testing::AssertionFailure() << written.size() << " grains written, source has "
                                         << want.size() << " non-zero grains";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace rpfs::testing
