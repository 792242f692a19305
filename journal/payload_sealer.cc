#include "journal/payload_sealer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "journal/coding.h"

namespace rpfs::journal {
namespace {

constexpr size_t kAadSize = 40;

// The AAD: what places the payload, drawn in record_format.h.
void EncodeAad(const RecordHeader& h, uint8_t out[kAadSize]) {
  out[0] = static_cast<uint8_t>(h.type);
  out[1] = static_cast<uint8_t>(h.flags & (kZstd | kZero));
  out[2] = out[3] = 0;
  PutLE32(out + 4, h.length);
  PutLE64(out + 8, h.seq);
  PutLE64(out + 16, h.time_ns);
  PutLE32(out + 24, h.disk);
  PutLE32(out + 28, h.branch);
  PutLE64(out + 32, h.offset);
}

// EVP lengths are ints; payloads are at most kMaxPayload (4 MiB).
int Len(size_t n) { return static_cast<int>(n); }

}  // namespace

PayloadSealer::Pool::~Pool() {
  for (EVP_CIPHER_CTX* c : free_) EVP_CIPHER_CTX_free(c);  // cleanses the key schedule
}

EVP_CIPHER_CTX* PayloadSealer::Pool::Take() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!free_.empty()) {
      EVP_CIPHER_CTX* c = free_.back();
      free_.pop_back();
      return c;
    }
  }
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  if (c == nullptr) return nullptr;
  // The key schedule is made here, once; each message then sets its IV only.
  if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), nullptr, key_, nullptr, encrypt_ ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(c);
    return nullptr;
  }
  return c;
}

void PayloadSealer::Pool::Give(EVP_CIPHER_CTX* ctx) {
  std::lock_guard<std::mutex> l(mu_);
  free_.push_back(ctx);
}

PayloadSealer::PayloadSealer(const uint8_t key[kDataKeySize], uint32_t epoch) : epoch_(epoch) {
  std::memcpy(key_, key, kDataKeySize);
}

PayloadSealer::~PayloadSealer() { OPENSSL_cleanse(key_, sizeof key_); }

Status PayloadSealer::Seal(const RecordHeader& h, const void* payload, uint8_t* out) {
  uint8_t* nonce = out;
  PutLE32(nonce, epoch_);
  PutLE64(nonce + 4, counter_.fetch_add(1, std::memory_order_relaxed));
  uint8_t aad[kAadSize];
  EncodeAad(h, aad);
  uint8_t* text = out + kSealNonceSize;
  EVP_CIPHER_CTX* c = sealers_.Take();
  if (c == nullptr) return Status::Internal("cannot set up AES-256-GCM");
  int n = 0, fin = 0;
  const bool ok =
      EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce) == 1 &&
      EVP_EncryptUpdate(c, nullptr, &n, aad, sizeof aad) == 1 &&
      (h.payload_len == 0 ||
       EVP_EncryptUpdate(c, text, &n, static_cast<const uint8_t*>(payload), Len(h.payload_len)) == 1) &&
      EVP_EncryptFinal_ex(c, text + h.payload_len, &fin) == 1 &&
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kSealTagSize, text + h.payload_len) == 1;
  sealers_.Give(c);
  if (!ok) return Status::Internal("AES-256-GCM sealing failed");
  return Status::OK();
}

bool PayloadSealer::OpenParts(const RecordHeader& h, const uint8_t nonce[kSealNonceSize],
                              const uint8_t* text, size_t text_len,
                              const uint8_t tag[kSealTagSize], uint8_t* out) const {
  uint8_t aad[kAadSize];
  EncodeAad(h, aad);
  EVP_CIPHER_CTX* c = openers_.Take();
  if (c == nullptr) return false;
  uint8_t tag_copy[kSealTagSize];  // the ctrl takes a non-const pointer
  std::memcpy(tag_copy, tag, sizeof tag_copy);
  int n = 0, fin = 0;
  const bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce) == 1 &&
                  EVP_DecryptUpdate(c, nullptr, &n, aad, sizeof aad) == 1 &&
                  (text_len == 0 || EVP_DecryptUpdate(c, out, &n, text, Len(text_len)) == 1) &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kSealTagSize, tag_copy) == 1 &&
                  EVP_DecryptFinal_ex(c, out + text_len, &fin) == 1;
  openers_.Give(c);
  if (!ok) OPENSSL_cleanse(out, text_len);  // nothing unauthenticated leaves
  return ok;
}

bool PayloadSealer::Open(const RecordHeader& h, const uint8_t* sealed, uint8_t* out) const {
  if (h.payload_len < kSealOverhead) return false;
  const size_t n = h.payload_len - kSealOverhead;
  const uint8_t* text = sealed + kSealNonceSize;
  return OpenParts(h, sealed, text, n, text + n, out);
}

RecordHeader PlainHeader(const RecordHeader& stored) {
  RecordHeader h = stored;
  h.flags = static_cast<uint8_t>(h.flags & ~kSealed);
  h.payload_len = stored.payload_len >= kSealOverhead ? stored.payload_len - kSealOverhead : 0;
  return h;
}

Status OpenRecordInPlace(const PayloadSealer* sealer, const std::string& where, RecordHeader* h,
                         std::string* record) {
  const bool sealed = (h->flags & kSealed) != 0;
  if (sealer == nullptr) {
    if (sealed) return Status::Corruption(where + ": sealed record in a vault without encryption");
    return Status::OK();
  }
  if (!sealed) return Status::Corruption(where + ": record not sealed in an encrypted vault");
  auto* p = reinterpret_cast<uint8_t*>(record->data()) + kRecordHeaderSize;
  if (!sealer->Open(*h, p, p + kSealNonceSize)) {
    return Status::Corruption(where + ": record seal does not open (damaged or altered payload)");
  }
  const RecordHeader plain = PlainHeader(*h);
  std::memmove(p, p + kSealNonceSize, plain.payload_len);
  record->resize(kRecordHeaderSize + plain.payload_len);
  EncodeRecordHeader(plain, p, reinterpret_cast<uint8_t*>(record->data()));
  *h = plain;
  return Status::OK();
}

}  // namespace rpfs::journal
