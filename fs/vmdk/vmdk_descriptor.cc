#include "fs/vmdk/vmdk_descriptor.h"

#include <cinttypes>
#include <cstdio>
#include <set>
#include <vector>

#include "fs/vmdk/descriptor_text.h"
#include "journal/crc32c.h"

namespace rpfs::fs {
namespace {

using namespace descriptor_text;

constexpr uint64_t kSectorSize = 512;
constexpr uint64_t kSectorsPerTrack = 63;
constexpr uint32_t kNoCid = 0xffffffffu;
// qemu reads the sector count as int64 and multiplies it by 512.
constexpr uint64_t kMaxCapacityBytes = (uint64_t{INT64_MAX} / kSectorSize) * kSectorSize;
constexpr size_t kMaxFileNameBytes = 255;  // NAME_MAX

// Bounds on a descriptor handed to DescriptorKeepsExtent. qemu itself reads
// at most 1 MiB - 1 of a descriptor file; QEMU's CID rewrite makes it 10 KiB.
constexpr size_t kMaxRawBytes = size_t{1} << 20;
constexpr size_t kMaxTextBytes = size_t{64} << 10;
constexpr size_t kMaxLineBytes = 1024;

constexpr std::string_view kAdapterTypes[] = {"ide", "buslogic", "lsilogic", "legacyESX",
                                              "pvscsi"};
constexpr std::string_view kAccessModes[] = {"RW", "RDONLY", "NOACCESS"};
constexpr std::string_view kExtentTypes[] = {"FLAT",    "SPARSE",  "ZERO",    "VMFS",
                                             "VMFSSPARSE", "VMFSRDM", "VMFSRAW", "SESPARSE"};

// Keys qemu looks up with strstr() over the whole text rather than per line.
constexpr std::string_view kCreateTypeKey = "createType";
constexpr std::string_view kParentHintKey = "parentFileNameHint";

template <size_t N>
bool OneOf(std::string_view s, const std::string_view (&set)[N]) {
  for (std::string_view x : set) {
    if (s == x) return true;
  }
  return false;
}

// A leading unsigned decimal that fits in int64 (what qemu's %SCNd64 reads).
bool ConsumeDecimal(std::string_view* s, uint64_t* value) {
  size_t n = 0;
  uint64_t v = 0;
  while (n < s->size() && IsDigit((*s)[n])) {
    uint64_t d = static_cast<uint64_t>((*s)[n] - '0');
    if (v > (uint64_t{INT64_MAX} - d) / 10) return false;
    v = v * 10 + d;
    ++n;
  }
  if (n == 0) return false;
  s->remove_prefix(n);
  *value = v;
  return true;
}

bool IsHexCid(std::string_view s) {
  if (s.empty() || s.size() > 8) return false;
  for (char c : s) {
    if (!IsHexDigit(c)) return false;
  }
  return true;
}

// One extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. Views point into
// the text being parsed.
struct Extent {
  std::string_view access;
  uint64_t sectors = 0;
  std::string_view type;
  std::optional<std::string_view> file;  // absent only for ZERO
  std::optional<uint64_t> offset;        // in sectors; FLAT has one
  bool operator==(const Extent&) const = default;
};

// What DescriptorKeepsExtent compares; views point into the text.
struct Descriptor {
  std::vector<Extent> extents;
  std::string_view create_type;
  std::optional<std::string_view> parent_hint;
};

// `line` is trimmed and starts with an access mode followed by a blank.
bool ParseExtentLine(std::string_view line, Extent* e) {
  e->access = ConsumeToken(&line);
  if (!ConsumeBlanks(&line) || !ConsumeDecimal(&line, &e->sectors) || e->sectors == 0) {
    return false;
  }
  if (!ConsumeBlanks(&line)) return false;
  e->type = ConsumeToken(&line);
  if (!OneOf(e->type, kExtentTypes)) return false;
  if (line.empty()) return e->type == "ZERO";
  if (!ConsumeBlanks(&line) || line.front() != '"') return false;
  size_t close = line.find('"', 1);
  if (close == std::string_view::npos || close == 1) return false;
  e->file = line.substr(1, close - 1);
  line.remove_prefix(close + 1);
  if (line.empty()) return true;
  uint64_t offset = 0;
  if (!ConsumeBlanks(&line) || !ConsumeDecimal(&line, &offset) || !line.empty()) return false;
  e->offset = offset;
  return true;
}

// `key = value` or `key = "value"`, blanks optional around '='.
bool ParseKeyValue(std::string_view line, std::string_view* key, std::string_view* value) {
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return false;
  *key = TrimBlanks(line.substr(0, eq));
  if (key->empty()) return false;
  for (char c : *key) {
    if (!IsKeyChar(c)) return false;
  }
  std::string_view v = TrimBlanks(line.substr(eq + 1));
  if (!v.empty() && v.front() == '"') {
    if (v.size() < 2 || v.back() != '"') return false;
    v = v.substr(1, v.size() - 2);
  }
  if (v.find('"') != std::string_view::npos) return false;
  *value = v;
  return true;
}

bool ParseDescriptor(std::string_view text, Descriptor* d) {
  if (text.size() > kMaxRawBytes) return false;
  // qemu reads a descriptor as a C string: the text ends at the first NUL. Its CID rewrite
  // writes its whole buffer back - the new text, a NUL, then what the buffer held before (the
  // old text's tail when the new CID is shorter, NUL padding past the old end).
  text = text.substr(0, text.find('\0'));
  if (text.empty() || text.size() > kMaxTextBytes) return false;

  std::set<std::string> keys;  // lower-cased: "CID" and "cid" are one key twice
  bool have_cid = false, have_parent_cid = false, have_create_type = false;
  size_t create_type_at = std::string_view::npos;
  size_t parent_hint_at = std::string_view::npos;

  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view raw = text.substr(pos, end - pos);
    const size_t line_at = pos;
    pos = nl == std::string_view::npos ? text.size() : nl + 1;

    if (raw.size() > kMaxLineBytes) return false;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    for (char c : raw) {
      if (IsControl(c) && c != '\t') return false;
    }
    std::string_view line = TrimBlanks(raw);
    if (line.empty() || line.front() == '#') continue;
    const size_t content_at = line_at + static_cast<size_t>(line.data() - raw.data());

    std::string_view rest = line;
    std::string_view first = ConsumeToken(&rest);
    if (OneOf(first, kAccessModes) && !rest.empty()) {
      if (keys.empty()) return false;  // version comes first
      Extent e;
      if (!ParseExtentLine(line, &e)) return false;
      d->extents.push_back(e);
      continue;
    }

    std::string_view key, value;
    if (!ParseKeyValue(line, &key, &value)) return false;
    if (keys.empty() && key != "version") return false;
    if (!keys.insert(Lower(key)).second) return false;
    if (key == "version") {
      if (value.empty() || value.size() > 3) return false;
      for (char c : value) {
        if (!IsDigit(c)) return false;
      }
    } else if (key == "CID") {
      if (!IsHexCid(value)) return false;
      have_cid = true;
    } else if (key == "parentCID") {
      if (!IsHexCid(value)) return false;
      have_parent_cid = true;
    } else if (key == kCreateTypeKey) {
      if (value.empty()) return false;
      d->create_type = value;
      create_type_at = content_at;
      have_create_type = true;
    } else if (key == kParentHintKey) {
      d->parent_hint = value;
      parent_hint_at = content_at;
    }
  }
  if (!have_cid || !have_parent_cid || !have_create_type || d->extents.empty()) return false;
  // qemu takes the first occurrence anywhere in the text (comments, values,
  // file names) as the key; it must be the line we read.
  if (text.find(kCreateTypeKey) != create_type_at) return false;
  if (text.find(kParentHintKey) != parent_hint_at) return false;
  return true;
}

std::string Quoted(std::string_view key, std::string_view value) {
  std::string line(key);
  line += " = \"";
  line += value;
  line += "\"\n";
  return line;
}

std::string FormatUuid(const std::array<uint8_t, 16>& uuid) {
  std::string out;
  char hex[3];
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i > 0) out += i == 8 ? '-' : ' ';
    std::snprintf(hex, sizeof(hex), "%02x", uuid[i]);
    out += hex;
  }
  return out;
}

}  // namespace

Status CheckDescriptorParams(const DescriptorParams& p) {
  if (p.capacity_bytes == 0 || p.capacity_bytes % kSectorSize != 0 ||
      p.capacity_bytes > kMaxCapacityBytes) {
    return Status::InvalidArgument("vmdk descriptor: capacity " +
                                   std::to_string(p.capacity_bytes) +
                                   " bytes is not a positive multiple of 512 within int64");
  }
  const std::string& name = p.flat_file_name;
  bool name_ok = !name.empty() && name.size() <= kMaxFileNameBytes && name != "." &&
                 name != ".." && name.find(kParentHintKey) == std::string::npos;
  for (char c : name) {
    if (IsControl(c) || c == '/' || c == '\\' || c == '"') name_ok = false;
  }
  if (!name_ok) {
    // The name is not echoed: it may hold the very characters that broke it.
    return Status::InvalidArgument(
        "vmdk descriptor: extent file name must be 1-255 bytes, not '.' or '..', without '/', "
        "'\\', '\"' or control characters");
  }
  if (!OneOf(p.adapter_type, kAdapterTypes)) {
    return Status::InvalidArgument(
        "vmdk descriptor: adapter type must be ide, buslogic, lsilogic, legacyESX or pvscsi");
  }
  const std::string& hw = p.virtual_hw_version;
  bool hw_ok = !hw.empty() && hw.size() <= 3;
  for (char c : hw) {
    if (!IsDigit(c)) hw_ok = false;
  }
  if (!hw_ok) {
    return Status::InvalidArgument("vmdk descriptor: virtual hardware version must be 1-3 digits");
  }
  return Status::OK();
}

std::string_view CreateTypeName(VmdkSubformat subformat) {
  switch (subformat) {
    case VmdkSubformat::kMonolithicFlat: return "monolithicFlat";
    case VmdkSubformat::kMonolithicSparse: return "monolithicSparse";
    case VmdkSubformat::kStreamOptimized: return "streamOptimized";
  }
  return "monolithicFlat";
}

std::string GenerateDescriptor(VmdkSubformat subformat, const DescriptorParams& p) {
  if (!CheckDescriptorParams(p).ok()) return std::string();
  const uint64_t sectors = p.capacity_bytes / kSectorSize;
  // qemu block/vmdk.c vmdk_co_do_create(): 16 heads for IDE, 255 otherwise;
  // cylinders rounded down and not clamped.
  const uint64_t heads = p.adapter_type == "ide" ? 16 : 255;
  const uint64_t cylinders = p.capacity_bytes / (kSectorsPerTrack * heads * kSectorSize);
  char cid[9];
  std::snprintf(cid, sizeof(cid), "%08" PRIx32, p.cid);
  // A flat extent names its start sector in the file; a sparse one does not
  // (its header says where everything is).
  const bool flat = subformat == VmdkSubformat::kMonolithicFlat;

  std::string out;
  out.reserve(512);
  out += "# Disk DescriptorFile\n";
  out += "version=1\n";
  out += "encoding=\"UTF-8\"\n";
  out += "CID=";
  out += cid;
  out += "\n";
  out += "parentCID=ffffffff\n";
  out += "createType=\"";
  out += CreateTypeName(subformat);
  out += "\"\n";
  out += "\n";
  out += "# Extent description\n";
  out += "RW " + std::to_string(sectors) + (flat ? " FLAT \"" : " SPARSE \"") +
         p.flat_file_name + (flat ? "\" 0\n" : "\"\n");
  out += "\n";
  out += "# The Disk Data Base\n";
  out += "#DDB\n";
  out += "\n";
  out += Quoted("ddb.virtualHWVersion", p.virtual_hw_version);
  out += Quoted("ddb.geometry.cylinders", std::to_string(cylinders));
  out += Quoted("ddb.geometry.heads", std::to_string(heads));
  out += Quoted("ddb.geometry.sectors", std::to_string(kSectorsPerTrack));
  out += Quoted("ddb.adapterType", p.adapter_type);
  if (p.uuid) out += Quoted("ddb.uuid", FormatUuid(*p.uuid));
  return out;
}

std::string MonolithicFlatDescriptor(const DescriptorParams& p) {
  return GenerateDescriptor(VmdkSubformat::kMonolithicFlat, p);
}

uint32_t DescriptorCid(std::string_view disk_name, uint64_t created_ns) {
  // The name, a NUL (so "a"+"bc" and "ab"+"c" differ), then the creation
  // time little-endian.
  uint8_t tail[9] = {0};
  for (int i = 0; i < 8; ++i) tail[1 + i] = static_cast<uint8_t>(created_ns >> (8 * i));
  uint32_t crc = crc32c::Value(disk_name.data(), disk_name.size());
  crc = crc32c::Extend(crc, tail, sizeof(tail));
  return crc == kNoCid ? kNoCid - 1 : crc;
}

bool DescriptorKeepsExtent(std::string_view original, std::string_view edited) {
  Descriptor before, after;
  if (!ParseDescriptor(original, &before) || !ParseDescriptor(edited, &after)) return false;
  return before.extents == after.extents && before.create_type == after.create_type &&
         before.parent_hint == after.parent_hint;
}

}  // namespace rpfs::fs
