#include "fs/vmdk/sparse_extent_header.h"

#include <cstring>
#include <string>

#include "fs/vmdk/image_reader.h"
#include "fs/vmdk/sparse_extent_format.h"

namespace rpfs::fs {

bool SectorsInFile(uint64_t sectors, uint64_t bytes, uint64_t file_size) {
  if (sectors > file_size / kSector) return false;
  return bytes <= file_size - sectors * kSector;
}

std::string PastEnd(std::string_view what, uint64_t sectors, uint64_t bytes, uint64_t file_size) {
  return std::string(what) + " at sector " + std::to_string(sectors) + " (" +
         std::to_string(bytes) + " bytes) is past the end of the file (" +
         std::to_string(file_size) + " bytes)";
}

namespace {

std::string Hex(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), kDigits[v & 15]);
    v >>= 4;
  } while (v != 0);
  return "0x" + s;
}

// Errors about the header (or footer) copy at `base`.
class FieldError {
 public:
  FieldError(const ByteSource& src, std::string what, uint64_t base)
      : src_(src), what_(std::move(what)), base_(base) {}
  Status operator()(uint64_t field, const std::string& msg) const {
    return Status::Corruption(src_.name() + ": " + what_ + " at offset " +
                              std::to_string(base_ + field) + ": " + msg);
  }

 private:
  const ByteSource& src_;
  std::string what_;
  uint64_t base_;
};

// Decodes and checks the fields of one header copy (the header, or the
// footer at `base`), except the directory offsets.
Status ParseFields(const ByteSource& src, const char* b, const FieldError& err,
                   SparseHeader* h) {
  const uint32_t magic = GetLE32(b);
  if (std::memcmp(b, "COWD", 4) == 0) {
    return Status::InvalidArgument(src.name() +
                                   ": COWD (ESX 3 vmfsSparse) extents are not supported");
  }
  if (magic != kSparseMagic) return err(0, "bad magic " + Hex(magic) + ", not KDMV");
  h->version = GetLE32(b + 4);
  if (h->version < 1 || h->version > 3) {
    return err(4, "unsupported version " + std::to_string(h->version));
  }
  h->flags = GetLE32(b + 8);
  if ((h->flags & kFlagNewlineCheck) && std::memcmp(b + 73, "\n \r\n", 4) != 0) {
    return err(73, "newline check bytes damaged (copied as text?)");
  }
  const uint64_t capacity = GetLE64(b + 12);
  if (capacity == 0) return err(12, "capacity is 0");
  if (capacity > kMaxImageCapacity / kSector) {
    return err(12, "capacity of " + std::to_string(capacity) + " sectors is over " +
                       std::to_string(kMaxImageCapacity >> 40) + " TiB");
  }
  h->capacity = capacity * kSector;
  const uint64_t grain = GetLE64(b + 20);
  if (grain == 0) return err(20, "grain size is 0");
  if ((grain & (grain - 1)) != 0) {
    return err(20, "grain size of " + std::to_string(grain) + " sectors is not a power of two");
  }
  if (grain > kMaxGrainSectors) {
    return err(20, "grain size of " + std::to_string(grain) + " sectors is over " +
                       std::to_string(kMaxGrainSectors));
  }
  h->grain_bytes = grain * kSector;
  h->gtes_per_gt = GetLE32(b + 44);
  if (h->gtes_per_gt == 0 || h->gtes_per_gt > kMaxGtesPerGt) {
    return err(44, std::to_string(h->gtes_per_gt) + " entries per grain table (1 to " +
                       std::to_string(kMaxGtesPerGt) + ")");
  }
  const uint64_t gt_span = grain * h->gtes_per_gt;  // sectors one table maps
  h->gd_entries = (capacity + gt_span - 1) / gt_span;
  if (h->gd_entries > kMaxGdEntries) {
    return err(44, "the grain directory would need " + std::to_string(h->gd_entries) +
                       " entries, more than " + std::to_string(kMaxGdEntries));
  }
  const uint16_t algorithm = GetLE16(b + 77);
  if (algorithm > kCompressDeflate) {
    return Status::InvalidArgument(src.name() + ": compression algorithm " +
                                   std::to_string(algorithm) + " is not supported");
  }
  h->compressed = algorithm == kCompressDeflate;
  if (h->compressed && !(h->flags & kFlagMarkers)) {
    return Status::InvalidArgument(src.name() +
                                   ": compressed grains without markers are not supported");
  }
  h->zero_grain_gte = (h->flags & kFlagZeroGrainGte) != 0;
  return Status::OK();
}

// The footer and its markers (last three sectors); fills h from the footer.
Status ReadFooter(const ByteSource& src, const SparseHeader& header, SparseHeader* h) {
  const uint64_t end = src.size() / kSector * kSector;
  if (end < 4 * kSector) {
    return Status::Corruption(src.name() + ": footer: the file ends at offset " +
                              std::to_string(src.size()) + ", too short to hold one");
  }
  const uint64_t at = end - 3 * kSector;
  char buf[3 * kSector];
  RPFS_RETURN_IF_ERROR(src.ReadAt(at, sizeof buf, buf, "footer"));
  FieldError marker_err(src, "footer marker", at);
  if (GetLE32(buf + 8) != 0 || GetLE32(buf + 12) != kMarkerFooter) {
    return marker_err(8, "not a footer marker (size " + std::to_string(GetLE32(buf + 8)) +
                             ", type " + std::to_string(GetLE32(buf + 12)) + ")");
  }
  FieldError eos_err(src, "end-of-stream marker", at + 2 * kSector);
  const char* eos = buf + 2 * kSector;
  if (GetLE64(eos) != 0 || GetLE32(eos + 8) != 0 || GetLE32(eos + 12) != kMarkerEndOfStream) {
    return eos_err(0, "not an end-of-stream marker");
  }
  FieldError err(src, "footer", at + kSector);
  RPFS_RETURN_IF_ERROR(ParseFields(src, buf + kSector, err, h));
  if (h->capacity != header.capacity) return err(12, "capacity differs from the header's");
  if (h->grain_bytes != header.grain_bytes) return err(20, "grain size differs from the header's");
  h->gd_sector = GetLE64(buf + kSector + 56);
  if (h->gd_sector == kGdAtEnd) return err(56, "grain directory offset is GD_AT_END too");
  h->rgd_sector = GetLE64(buf + kSector + 48);
  h->descriptor_offset = GetLE64(buf + kSector + 28);
  h->descriptor_bytes = GetLE64(buf + kSector + 36);
  h->overhead = GetLE64(buf + kSector + 64);
  h->footer = true;
  h->footer_offset = at;
  return Status::OK();
}

}  // namespace

Status ReadSparseHeader(const ByteSource& src, SparseHeader* h) {
  *h = SparseHeader();
  char b[kSector];
  RPFS_RETURN_IF_ERROR(src.ReadAt(0, sizeof b, b, "header"));
  FieldError err(src, "header", 0);
  RPFS_RETURN_IF_ERROR(ParseFields(src, b, err, h));
  const uint64_t size = src.size();
  // Every writer pads the last grain to a sector; a ragged end was cut.
  if (size % kSector != 0) {
    return Status::Corruption(src.name() + ": the file ends at offset " + std::to_string(size) +
                              ", inside a sector: truncated?");
  }
  uint64_t base = 0;  // where the copy in use sits
  if (GetLE64(b + 56) == kGdAtEnd) {
    SparseHeader footer;
    RPFS_RETURN_IF_ERROR(ReadFooter(src, *h, &footer));
    *h = footer;
    base = footer.footer_offset + kSector;
  } else {
    h->gd_sector = GetLE64(b + 56);
    h->rgd_sector = GetLE64(b + 48);
    h->descriptor_offset = GetLE64(b + 28);
    h->descriptor_bytes = GetLE64(b + 36);
    h->overhead = GetLE64(b + 64);
  }
  FieldError used(src, h->footer ? "footer" : "header", base);

  // The directories' places are checked by GrainDirectory::Load, so a bad
  // primary can fall back to the redundant one.
  if (!(h->flags & kFlagRedundantGd)) h->rgd_sector = 0;
  h->header_at = base;
  if (h->descriptor_offset != 0 || h->descriptor_bytes != 0) {
    if (h->descriptor_offset == 0 || h->descriptor_bytes == 0 ||
        h->descriptor_bytes > kMaxEmbeddedDescriptorSectors) {
      return used(28, "descriptor at sector " + std::to_string(h->descriptor_offset) + " of " +
                          std::to_string(h->descriptor_bytes) + " sectors (1 to " +
                          std::to_string(kMaxEmbeddedDescriptorSectors) + ")");
    }
    h->descriptor_bytes *= kSector;
    if (!SectorsInFile(h->descriptor_offset, h->descriptor_bytes, size)) {
      return used(28, PastEnd("descriptor", h->descriptor_offset, h->descriptor_bytes, size));
    }
    h->descriptor_offset *= kSector;
  }
  if (h->overhead == 0 || !SectorsInFile(h->overhead, 0, size)) {
    return used(64, "first grain sector (overHead) " + std::to_string(h->overhead) +
                        " is 0 or past the end of the file (" + std::to_string(size) +
                        " bytes): truncated?");
  }
  h->overhead *= kSector;
  return Status::OK();
}

}  // namespace rpfs::fs
