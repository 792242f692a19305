#include "journal/data_key.h"
#include "journal/coding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <sstream>
#include <vector>

namespace rpfs::journal {
namespace {

constexpr uint64_t kN = 1 << 15, kR = 8, kP = 1;
constexpr size_t kSaltSize = 16;
// Kept apart from any other use of the passphrase with scrypt.
constexpr char kSaltLabel[] = "rpfs data key v1";
constexpr char kAad[] = "rpfs wrapped data key v1";

std::string Hex(const uint8_t* p, size_t n) { return HexString(p, n); }

bool Unhex(const std::string& s, std::vector<uint8_t>* out) {
  if (s.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    int v = 0;
    for (size_t k = i; k < i + 2; ++k) {
      const char c = s[k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out->push_back(static_cast<uint8_t>(v));
  }
  return true;
}

bool DeriveKek(const std::string& passphrase, const uint8_t* salt, size_t salt_len, uint64_t n,
               uint64_t r, uint64_t p, DataKey* kek) {
  std::string s(kSaltLabel, sizeof kSaltLabel);
  s.append(reinterpret_cast<const char*>(salt), salt_len);
  return EVP_PBE_scrypt(passphrase.data(), passphrase.size(),
                        reinterpret_cast<const uint8_t*>(s.data()), s.size(), n, r, p, 256ull << 20,
                        kek->bytes, sizeof kek->bytes) == 1;
}

// AES-256-GCM of 32 bytes under kek; in may equal out.
bool Gcm(bool encrypt, const DataKey& kek, const uint8_t nonce[kSealNonceSize], const uint8_t* in,
         uint8_t* out, uint8_t tag[kSealTagSize]) {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  if (c == nullptr) return false;
  int n = 0;
  bool ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), nullptr, kek.bytes, nonce, encrypt) == 1 &&
            EVP_CipherUpdate(c, nullptr, &n, reinterpret_cast<const uint8_t*>(kAad),
                             sizeof kAad) == 1 &&
            EVP_CipherUpdate(c, out, &n, in, kDataKeySize) == 1;
  if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kSealTagSize, tag) == 1;
  ok = ok && EVP_CipherFinal_ex(c, out + kDataKeySize, &n) == 1;
  if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kSealTagSize, tag) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

}  // namespace

DataKey::DataKey(const DataKey& other) { std::memcpy(bytes, other.bytes, sizeof bytes); }

DataKey& DataKey::operator=(const DataKey& other) {
  std::memcpy(bytes, other.bytes, sizeof bytes);
  return *this;
}

DataKey::~DataKey() { OPENSSL_cleanse(bytes, sizeof bytes); }

Status NewDataKey(DataKey* key) {
  if (RAND_bytes(key->bytes, sizeof key->bytes) != 1) {
    return Status::Internal("no random bytes for a key");
  }
  return Status::OK();
}

Status WrapDataKey(const DataKey& key, const std::string& passphrase, std::string* wrapped) {
  uint8_t salt[kSaltSize], nonce[kSealNonceSize], tag[kSealTagSize];
  uint8_t out[kDataKeySize + 16];  // GCM's final writes nothing; room anyway
  if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(nonce, sizeof nonce) != 1) {
    return Status::Internal("no random bytes for the key wrap");
  }
  DataKey kek;
  if (!DeriveKek(passphrase, salt, sizeof salt, kN, kR, kP, &kek)) {
    return Status::Internal("scrypt failed");
  }
  if (!Gcm(true, kek, nonce, key.bytes, out, tag)) return Status::Internal("key wrap failed");
  std::ostringstream o;
  o << "scrypt-gcm$" << kN << "$" << kR << "$" << kP << "$" << Hex(salt, sizeof salt) << "$"
    << Hex(nonce, sizeof nonce) << "$" << Hex(out, kDataKeySize) << Hex(tag, sizeof tag);
  *wrapped = o.str();
  return Status::OK();
}

Status UnwrapDataKey(const std::string& wrapped, const std::string& passphrase, DataKey* key) {
  const Status bad = Status::Corruption("catalog: malformed wrapped data key");
  std::vector<std::string> parts;
  std::stringstream ss(wrapped);
  std::string part;
  while (std::getline(ss, part, '$')) parts.push_back(part);
  if (parts.size() != 7 || parts[0] != "scrypt-gcm") return bad;
  std::vector<uint8_t> salt, nonce, sealed;
  uint64_t n, r, p;
  try {
    n = std::stoull(parts[1]);
    r = std::stoull(parts[2]);
    p = std::stoull(parts[3]);
  } catch (const std::exception&) {
    return bad;
  }
  // Bounded, so a damaged row cannot ask for gigabytes.
  if (n < 2 || n > (1u << 20) || (n & (n - 1)) != 0 || r == 0 || r > 32 || p == 0 || p > 16 ||
      !Unhex(parts[4], &salt) || salt.empty() || !Unhex(parts[5], &nonce) ||
      nonce.size() != kSealNonceSize || !Unhex(parts[6], &sealed) ||
      sealed.size() != kDataKeySize + kSealTagSize) {
    return bad;
  }
  DataKey kek;
  if (!DeriveKek(passphrase, salt.data(), salt.size(), n, r, p, &kek)) {
    return Status::Internal("scrypt failed");
  }
  uint8_t out[kDataKeySize + 16];
  const bool ok = Gcm(false, kek, nonce.data(), sealed.data(), out, sealed.data() + kDataKeySize);
  if (ok) std::memcpy(key->bytes, out, kDataKeySize);
  OPENSSL_cleanse(out, sizeof out);
  if (!ok) return Status::InvalidArgument("wrong passphrase");
  return Status::OK();
}

}  // namespace rpfs::journal
