#include "fs/vmdk/grain_deflater.h"

#include <cstring>

#include "fs/vmdk/vmdk_sparse_encoding.h"

namespace rpfs::tools {
namespace {

constexpr size_t kSampleBytes = 4096;  // two of them
// The sample must deflate below this share of its size for the grain to be
// compressed: 97%.
constexpr size_t kWorthItNumerator = 97;

}  // namespace

GrainDeflater::GrainDeflater(int level) {
  std::memset(&full_, 0, sizeof full_);
  std::memset(&stored_, 0, sizeof stored_);
  std::memset(&probe_, 0, sizeof probe_);
  const bool full = deflateInit(&full_, level) == Z_OK;
  const bool stored = deflateInit(&stored_, Z_NO_COMPRESSION) == Z_OK;
  // windowBits 13: an 8 KiB window, the sample. memLevel stays at its
  // default 8: smaller ones also shrink deflate's block buffer, and the
  // extra blocks make a probe 10x slower.
  const bool probe =
      deflateInit2(&probe_, 1, Z_DEFLATED, 13, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  ok_ = full && stored && probe;
}

GrainDeflater::~GrainDeflater() {
  deflateEnd(&full_);
  deflateEnd(&stored_);
  deflateEnd(&probe_);
}

Status GrainDeflater::Deflate(z_stream* z, const char* data, size_t len, char* dst, size_t cap,
                              size_t* n) {
  if (deflateReset(z) != Z_OK) return Status::Internal("zlib: cannot reset a deflate stream");
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z->avail_in = static_cast<uInt>(len);
  z->next_out = reinterpret_cast<Bytef*>(dst);
  z->avail_out = static_cast<uInt>(cap);
  if (deflate(z, Z_FINISH) != Z_STREAM_END) return Status::Internal("zlib: deflate failed");
  *n = cap - z->avail_out;
  return Status::OK();
}

bool GrainDeflater::LooksIncompressible(const char* data, size_t len) {
  if (len < 4 * kSampleBytes) return false;  // too small to bother
  char sample[2 * kSampleBytes];
  std::memcpy(sample, data, kSampleBytes);
  std::memcpy(sample + kSampleBytes, data + len / 2, kSampleBytes);
  char out[2 * kSampleBytes + 64];
  size_t n = 0;
  if (!Deflate(&probe_, sample, sizeof sample, out, sizeof out, &n).ok()) return false;
  return n * 100 >= sizeof sample * kWorthItNumerator;
}

Status GrainDeflater::Pack(uint64_t grain, uint64_t grain_sectors, const char* data, size_t len,
                           std::string* out) {
  if (!ok_) return Status::Internal("zlib: cannot set up deflate streams");
  z_stream* z = &full_;
  if (LooksIncompressible(data, len)) z = &stored_;
  const size_t bound = deflateBound(z, len);
  out->resize(vmdk::DivRoundUp(fs::kGrainMarkerBytes + bound, vmdk::kSector) * vmdk::kSector);
  size_t n = 0;
  Status s = Deflate(z, data, len, out->data() + fs::kGrainMarkerBytes, bound, &n);
  if (!s.ok()) return Status::Internal(s.message() + " on grain " + std::to_string(grain));
  vmdk::EncodeGrainMarker(grain * grain_sectors, static_cast<uint32_t>(n), out->data());
  const size_t used = fs::kGrainMarkerBytes + n;
  const size_t padded = vmdk::DivRoundUp(used, vmdk::kSector) * vmdk::kSector;
  std::memset(out->data() + used, 0, padded - used);
  out->resize(padded);
  return Status::OK();
}

}  // namespace rpfs::tools
