// The text of a VMDK descriptor, for the mount and for `rpfs export`: the
// monolithicFlat descriptor every disk of the mount shows next to its raw
// extent DISK-flat.vmdk (DESIGN.md §2) and that `export --format vmdk-flat`
// writes, the descriptor embedded in the monolithicSparse and
// streamOptimized images of `export --format vmdk-sparse|vmdk-stream`, and
// the check the daemon runs on a descriptor a client wrote back.
//
// The descriptor we generate (VMware "Virtual Disk Format 5.0", "The
// Descriptor File"; the same shape qemu block/vmdk.c writes), every line
// ending in "\n":
//
//   # Disk DescriptorFile
//   version=1
//   encoding="UTF-8"
//   CID=<8 hex digits>                       content id, DescriptorCid()
//   parentCID=ffffffff                       no parent
//   createType="<subformat>"                 monolithicFlat, monolithicSparse
//                                            or streamOptimized
//
//   # Extent description
//   RW <capacity/512> FLAT "<file>" 0        monolithicFlat: the raw extent
//   RW <capacity/512> SPARSE "<file>"        the sparse subformats: the image
//                                            file itself (no offset)
//
//   # The Disk Data Base
//   #DDB
//
//   ddb.virtualHWVersion = "4"
//   ddb.geometry.cylinders = "<C>"
//   ddb.geometry.heads = "<H>"
//   ddb.geometry.sectors = "63"
//   ddb.adapterType = "lsilogic"
//   ddb.uuid = "xx xx xx xx xx xx xx xx-xx xx xx xx xx xx xx xx"   (optional)
//
// "version=1" must be the first line that is neither blank nor a comment:
// that is how qemu and VMware tell a descriptor from a binary image. In a
// sparse image the descriptor sits in the sectors the sparse header points
// at; the header, not this text, is what readers map the disk by.
//
// Geometry follows qemu's vmdk_co_do_create(): H = 16 for the "ide" adapter
// and 255 for every other adapter (what VMware uses for SCSI), 63 sectors a
// track, C = capacity / (63 * H * 512) rounded down, not clamped (a disk
// under one cylinder says "0", as qemu-img would write it).
//
// Edits. QEMU opening DISK.vmdk read-write rewrites it on the first guest
// write: it replaces the value after "CID=" with a random "%x" and writes
// back its whole 10 KiB descriptor buffer, so the file grows: the new text, a
// NUL, then what the buffer held (the old text's last bytes when the new CID
// has fewer digits, NUL padding after). qemu reads the text up to its first
// NUL, and so does DescriptorKeepsExtent(), which accepts such a rewrite and
// refuses any text that would make a reader map the disk differently.
//
// All functions are pure, thread-safe, and cost O(text length).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "journal/status.h"

namespace rpfs::fs {

// The createType values we write.
enum class VmdkSubformat { kMonolithicFlat, kMonolithicSparse, kStreamOptimized };

// "monolithicFlat", "monolithicSparse", "streamOptimized".
std::string_view CreateTypeName(VmdkSubformat subformat);

struct DescriptorParams {
  // Disk size; a positive multiple of 512.
  uint64_t capacity_bytes = 0;
  // The extent file's name, relative to the descriptor's directory: the raw
  // extent of monolithicFlat ("disk0-flat.vmdk"), or for the sparse
  // subformats the image file itself ("disk0.vmdk"). No '/', '\\', '"' or
  // control characters. (Named for the mount's flat extent, its first use.)
  std::string flat_file_name;
  // Content id; see DescriptorCid().
  uint32_t cid = 0;
  // ddb.adapterType: "ide", "buslogic", "lsilogic", "legacyESX" or "pvscsi".
  // Also picks the geometry's head count (see above).
  std::string adapter_type = "lsilogic";
  // ddb.virtualHWVersion: 1 to 3 decimal digits.
  std::string virtual_hw_version = "4";
  // ddb.uuid, written only when set.
  std::optional<std::array<uint8_t, 16>> uuid;
};

// Ok, or InvalidArgument naming the first field that cannot be written into
// a descriptor.
Status CheckDescriptorParams(const DescriptorParams& p);

// The descriptor text described above for `subformat`, or "" when
// CheckDescriptorParams(p) fails.
std::string GenerateDescriptor(VmdkSubformat subformat, const DescriptorParams& p);

// GenerateDescriptor(VmdkSubformat::kMonolithicFlat, p): what the mount shows.
std::string MonolithicFlatDescriptor(const DescriptorParams& p);

// A CID that stays the same for one disk identity (its name and creation
// time) across daemon restarts and differs between disks. Never 0xffffffff,
// which means "no content id" (it is what parentCID says for no parent).
uint32_t DescriptorCid(std::string_view disk_name, uint64_t created_ns);

// True only if both texts are well-formed descriptors and `edited` keeps
// exactly the extent lines of `original` (access, sectors, type, file name,
// offset: in the same order, none added or removed), its createType and its
// parentFileNameHint (normally absent). Everything else may change: the CID,
// ddb entries, comments, blank lines, spacing within and around lines, \r\n
// line ends, anything from the first NUL on (qemu stops reading there).
//
// Well-formed means: at most 1 MiB (all of it) and 64 KiB of text before a NUL;
// lines of at most 1024 bytes; no control characters but tab; every line
// blank, a '#' comment, an extent line `ACCESS SECTORS TYPE "FILE" [OFFSET]`
// or `key = value`; no key twice; the first key is version; CID and
// parentCID (hex) and createType present; at least one extent. Also, since
// qemu finds createType and parentFileNameHint by substring search, neither
// name may occur in the text before its own key (nowhere, without the key).
bool DescriptorKeepsExtent(std::string_view original, std::string_view edited);

}  // namespace rpfs::fs
