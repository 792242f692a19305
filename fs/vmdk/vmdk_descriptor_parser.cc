#include "fs/vmdk/vmdk_descriptor_parser.h"

#include <optional>
#include <set>

#include "fs/vmdk/descriptor_text.h"

namespace rpfs::fs {
namespace {

using namespace descriptor_text;

struct NamedAccess {
  std::string_view name;
  ExtentAccess access;
};
constexpr NamedAccess kAccessModes[] = {{"RW", ExtentAccess::kReadWrite},
                                        {"RDONLY", ExtentAccess::kReadOnly},
                                        {"NOACCESS", ExtentAccess::kNoAccess}};

struct NamedType {
  std::string_view name;
  ExtentType type;
};
constexpr NamedType kExtentTypes[] = {
    {"FLAT", ExtentType::kFlat},       {"VMFS", ExtentType::kVmfs},
    {"SPARSE", ExtentType::kSparse},   {"VMFSSPARSE", ExtentType::kVmfsSparse},
    {"ZERO", ExtentType::kZero},       {"VMFSRDM", ExtentType::kVmfsRdm},
    {"VMFSRAW", ExtentType::kVmfsRaw}, {"SESPARSE", ExtentType::kSeSparse}};

// A short, printable excerpt of hostile text for a message.
std::string Excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += IsControl(c) ? '?' : c;
  if (s.size() > 40) out += "...";
  return out;
}

// Reports problems at one line.
class LineError {
 public:
  LineError(const std::string& file, size_t line, uint64_t offset)
      : prefix_(file + ": descriptor line " + std::to_string(line) + " (offset " +
                std::to_string(offset) + "): ") {}
  Status operator()(const std::string& what) const {
    return Status::InvalidArgument(prefix_ + what);
  }

 private:
  std::string prefix_;
};

// A decimal number of sectors, <= kMaxDescriptorSectors.
Status ParseSectors(std::string_view token, std::string_view what, const LineError& err,
                    uint64_t* value) {
  if (token.empty()) return err(std::string(what) + " missing");
  uint64_t v = 0;
  for (char c : token) {
    if (!IsDigit(c)) return err(std::string(what) + " '" + Excerpt(token) + "' is not a number");
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (kMaxDescriptorSectors - d) / 10) {
      return err(std::string(what) + " " + Excerpt(token) + " overflows (at most " +
                 std::to_string(kMaxDescriptorSectors) + " sectors)");
    }
    v = v * 10 + d;
  }
  *value = v;
  return Status::OK();
}

Status ParseHex32(std::string_view value, std::string_view key, const LineError& err,
                  uint32_t* out) {
  if (value.empty() || value.size() > 8) {
    return err(std::string(key) + " '" + Excerpt(value) + "' is not 1-8 hex digits");
  }
  uint32_t v = 0;
  for (char c : value) {
    uint32_t d;
    if (IsDigit(c)) {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return err(std::string(key) + " '" + Excerpt(value) + "' is not 1-8 hex digits");
    }
    v = v * 16 + d;
  }
  *out = v;
  return Status::OK();
}

// `line` is trimmed and starts with an access mode and a blank.
Status ParseExtent(std::string_view line, const LineError& err, DescriptorExtent* e) {
  std::string_view access = ConsumeToken(&line);
  for (const auto& a : kAccessModes) {
    if (access == a.name) e->access = a.access;
  }
  ConsumeBlanks(&line);
  RPFS_RETURN_IF_ERROR(ParseSectors(ConsumeToken(&line), "extent sector count", err, &e->sectors));
  if (e->sectors == 0) return err("extent sector count is 0");
  ConsumeBlanks(&line);
  std::string_view type = ConsumeToken(&line);
  if (type.empty()) return err("extent type missing");
  std::optional<ExtentType> t;
  for (const auto& k : kExtentTypes) {
    if (type == k.name) t = k.type;
  }
  if (!t) return err("unknown extent type '" + Excerpt(type) + "'");
  e->type = *t;
  ConsumeBlanks(&line);
  if (line.empty()) {
    if (e->type == ExtentType::kZero) return Status::OK();
    return err(std::string(ExtentTypeName(e->type)) + " extent without a file name");
  }
  if (e->type == ExtentType::kZero) return err("ZERO extent with a file name");
  if (line.front() != '"') return err("extent file name must be quoted");
  size_t close = line.find('"', 1);
  if (close == std::string_view::npos) return err("extent file name has no closing quote");
  if (close == 1) return err("extent file name is empty");
  e->file = std::string(line.substr(1, close - 1));
  line.remove_prefix(close + 1);
  bool blank = ConsumeBlanks(&line);
  if (line.empty()) {
    if (e->type == ExtentType::kFlat) return err("FLAT extent without an offset");
    return Status::OK();
  }
  if (!blank) return err("junk after the extent file name");
  if (e->type != ExtentType::kFlat) {
    return err(std::string(ExtentTypeName(e->type)) + " extent with an offset");
  }
  std::string_view offset = ConsumeToken(&line);
  RPFS_RETURN_IF_ERROR(ParseSectors(offset, "extent offset", err, &e->offset_sectors));
  ConsumeBlanks(&line);
  if (!line.empty()) return err("junk after the extent offset: '" + Excerpt(line) + "'");
  return Status::OK();
}

// `key = value` or `key = "value"`.
Status ParseKeyValue(std::string_view line, const LineError& err, std::string_view* key,
                     std::string_view* value) {
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    return err("neither a comment, an extent nor key = value: '" + Excerpt(line) + "'");
  }
  *key = TrimBlanks(line.substr(0, eq));
  if (key->empty()) return err("empty key");
  for (char c : *key) {
    if (!IsKeyChar(c)) return err("bad key '" + Excerpt(*key) + "'");
  }
  std::string_view v = TrimBlanks(line.substr(eq + 1));
  if (!v.empty() && v.front() == '"') {
    if (v.size() < 2 || v.back() != '"') return err("value of " + std::string(*key) + " has no closing quote");
    v = v.substr(1, v.size() - 2);
  }
  if (v.find('"') != std::string_view::npos) {
    return err("value of " + std::string(*key) + " holds a quote");
  }
  *value = v;
  return Status::OK();
}

}  // namespace

bool LooksLikeVmdkDescriptor(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    size_t i = line.find_first_not_of(" \t\r");
    if (i == std::string_view::npos || line[i] == '#') continue;
    line.remove_prefix(i);
    if (line.substr(0, 7) != "version") return false;
    line.remove_prefix(7);
    i = line.find_first_not_of(" \t");
    return i != std::string_view::npos && line[i] == '=';
  }
  return false;
}

std::string_view ExtentTypeName(ExtentType t) {
  for (const auto& k : kExtentTypes) {
    if (k.type == t) return k.name;
  }
  return "?";
}

Status ParseVmdkDescriptor(std::string_view text, const std::string& file_name,
                           uint64_t file_offset, VmdkDescriptor* out) {
  *out = VmdkDescriptor();
  if (text.size() > kMaxDescriptorBytes) {
    return Status::InvalidArgument(file_name + ": descriptor at offset " +
                                   std::to_string(file_offset) + " is " +
                                   std::to_string(text.size()) + " bytes, more than " +
                                   std::to_string(kMaxDescriptorBytes));
  }
  // The text ends at the first NUL, as QEMU and VMware read it: a sparse
  // extent's descriptor area is NUL-padded, and QEMU's CID rewrite (a
  // shorter "%x") leaves the old text's tail after the NUL it writes.
  text = text.substr(0, std::min(text.size(), text.find('\0')));

  std::set<std::string> keys;  // lower-cased
  bool have_cid = false, have_parent_cid = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view raw = text.substr(pos, end - pos);
    const uint64_t line_at = file_offset + pos;
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    LineError err(file_name, line_no, line_at);

    if (raw.size() > kMaxDescriptorLineBytes) {
      return err("line is " + std::to_string(raw.size()) + " bytes, more than " +
                 std::to_string(kMaxDescriptorLineBytes));
    }
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    for (size_t i = 0; i < raw.size(); ++i) {
      if (IsControl(raw[i]) && raw[i] != '\t') {
        return err("control character " + std::to_string(static_cast<unsigned char>(raw[i])) +
                   " at column " + std::to_string(i + 1));
      }
    }
    std::string_view line = TrimBlanks(raw);
    if (line.empty() || line.front() == '#') continue;

    std::string_view rest = line;
    std::string_view first = ConsumeToken(&rest);
    bool is_access = false;
    for (const auto& a : kAccessModes) is_access = is_access || first == a.name;
    if (is_access && !rest.empty()) {
      if (keys.empty()) return err("extent before the version line");
      if (out->extents.size() >= kMaxDescriptorExtents) {
        return err("more than " + std::to_string(kMaxDescriptorExtents) + " extents");
      }
      DescriptorExtent e;
      e.line = line_no;
      e.line_offset = line_at;
      RPFS_RETURN_IF_ERROR(ParseExtent(line, err, &e));
      if (e.sectors > kMaxDescriptorSectors - out->total_sectors) {
        return err("extents add up to more than " + std::to_string(kMaxDescriptorSectors) +
                   " sectors");
      }
      out->total_sectors += e.sectors;
      out->extents.push_back(std::move(e));
      continue;
    }

    std::string_view key, value;
    RPFS_RETURN_IF_ERROR(ParseKeyValue(line, err, &key, &value));
    if (keys.empty() && key != "version") {
      return err("the first key is '" + Excerpt(key) + "', not version");
    }
    if (!keys.insert(Lower(key)).second) return err("key " + std::string(key) + " given twice");
    if (key == "version") {
      if (value != "1" && value != "2" && value != "3") {
        return err("version '" + Excerpt(value) + "' is not 1, 2 or 3");
      }
      out->version = static_cast<uint32_t>(value[0] - '0');
    } else if (key == "CID") {
      RPFS_RETURN_IF_ERROR(ParseHex32(value, key, err, &out->cid));
      have_cid = true;
    } else if (key == "parentCID") {
      RPFS_RETURN_IF_ERROR(ParseHex32(value, key, err, &out->parent_cid));
      have_parent_cid = true;
    } else if (key == "createType") {
      if (value.empty()) return err("createType is empty");
      out->create_type = std::string(value);
    } else if (key == "parentFileNameHint") {
      out->parent_file_name_hint = std::string(value);
    } else if (key.substr(0, 4) == "ddb.") {
      out->ddb.emplace_back(std::string(key), std::string(value));
    }
  }
  const std::string whole = file_name + ": descriptor at offset " + std::to_string(file_offset);
  if (keys.empty()) return Status::InvalidArgument(whole + " has no version line");
  if (!have_cid) return Status::InvalidArgument(whole + " has no CID");
  if (!have_parent_cid) return Status::InvalidArgument(whole + " has no parentCID");
  if (out->create_type.empty()) return Status::InvalidArgument(whole + " has no createType");
  if (out->extents.empty()) return Status::InvalidArgument(whole + " has no extent line");
  return Status::OK();
}

}  // namespace rpfs::fs
