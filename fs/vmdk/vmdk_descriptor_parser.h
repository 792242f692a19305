// Reads a VMDK descriptor someone else wrote: a standalone DISK.vmdk or the
// text embedded in a sparse extent at its descriptorOffset. The input is
// hostile (an image handed to `rpfs disk import`), so every line, number and
// name is bounds-checked, and the first problem is reported as one line
// naming the file, the line number and its byte offset in the file:
//
//   disk.vmdk: descriptor line 9 (offset 212): extent sector count 9...9 overflows
//
// Grammar (VMware "Virtual Disk Format 5.0", "The Descriptor File"; the
// shape qemu block/vmdk.c and fs/vmdk/vmdk_descriptor.cc write):
//
//   text     := line*                    lines end in "\n" or "\r\n"
//   line     := blank | "#" comment | extent | key "=" value
//   extent   := ACCESS SECTORS TYPE ["FILE" [OFFSET]]
//     ACCESS  RW | RDONLY | NOACCESS
//     SECTORS decimal, > 0, in 512-byte sectors
//     TYPE    FLAT | VMFS | SPARSE | VMFSSPARSE | ZERO | VMFSRDM | VMFSRAW | SESPARSE
//     FILE    quoted, non-empty, no '"' or control characters; absent only for ZERO
//     OFFSET  decimal sectors into FILE; required for FLAT, refused for every
//             other type (as qemu does)
//   key      [A-Za-z0-9._-]+; value optionally "quoted"; no key twice
//            (case-insensitively); the first key is `version`
//
// Required: version (1, 2 or 3), CID and parentCID (1-8 hex digits),
// createType, and at least one extent. Keys starting with "ddb." are kept in
// order; other unknown keys are accepted and ignored.
//
// Bounds: at most kMaxDescriptorBytes including the NUL padding a sparse
// extent's descriptor area (or a QEMU CID rewrite) ends with; lines of at
// most kMaxDescriptorLineBytes; at most kMaxDescriptorExtents extents; no
// control characters but tab; sector counts and offsets within int64 when
// multiplied by 512, and so is their sum.
//
// Pure, thread-safe, O(text length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "journal/status.h"

namespace rpfs::fs {

constexpr size_t kMaxDescriptorBytes = size_t{1} << 20;
constexpr size_t kMaxDescriptorLineBytes = 8192;
constexpr size_t kMaxDescriptorExtents = 65536;
// Sector counts and offsets: bytes must fit in int64 (what qemu computes in).
constexpr uint64_t kMaxDescriptorSectors = uint64_t{INT64_MAX} / 512;

enum class ExtentAccess { kReadWrite, kReadOnly, kNoAccess };
enum class ExtentType { kFlat, kVmfs, kSparse, kVmfsSparse, kZero, kVmfsRdm, kVmfsRaw, kSeSparse };

std::string_view ExtentTypeName(ExtentType t);

// Whether text is a descriptor rather than data, as qemu probes it:
// skipping blank and '#' lines, the first line is a `version` key.
bool LooksLikeVmdkDescriptor(std::string_view text);

struct DescriptorExtent {
  ExtentAccess access = ExtentAccess::kReadWrite;
  uint64_t sectors = 0;
  ExtentType type = ExtentType::kFlat;
  std::string file;             // as written; empty for ZERO
  uint64_t offset_sectors = 0;  // FLAT only
  size_t line = 0;              // 1-based line number, for messages
  uint64_t line_offset = 0;     // byte offset of the line in the file
};

struct VmdkDescriptor {
  uint32_t version = 0;
  uint32_t cid = 0;
  uint32_t parent_cid = 0;
  std::string create_type;
  std::string parent_file_name_hint;  // empty when absent
  std::vector<DescriptorExtent> extents;
  std::vector<std::pair<std::string, std::string>> ddb;  // "ddb.adapterType", "lsilogic"
  uint64_t total_sectors = 0;  // the extents' sum, <= kMaxDescriptorSectors
};

// Parses `text`, read from `file_name` at byte `file_offset` (0 for a
// standalone descriptor, descriptorOffset * 512 for an embedded one; used
// in messages only). InvalidArgument naming the first problem.
Status ParseVmdkDescriptor(std::string_view text, const std::string& file_name,
                           uint64_t file_offset, VmdkDescriptor* out);

}  // namespace rpfs::fs
