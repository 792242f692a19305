#include "tools/replication/pairing.h"
#include "journal/coding.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <vector>

#include "tools/passphrase.h"
#include "tools/replication/replication_wire.h"

namespace rpfs::tools {
namespace {

void DeriveKey(const unsigned char* hash, size_t hash_len, PairingKey* key) {
  static const char kInfo[] = "rpfs pairing v1";
  unsigned int len = 0;
  HMAC(EVP_sha256(), hash, static_cast<int>(hash_len), reinterpret_cast<const unsigned char*>(kInfo),
       sizeof kInfo - 1, key->key, &len);
}

std::string Hex(const uint8_t* p, size_t n) { return HexString(p, n); }

}  // namespace

Status PairingKeyFromHash(const std::string& encoded_hash, PairingKey* key) {
  if (encoded_hash.empty()) {
    return Status::InvalidArgument("this vault has no passphrase (made before pairing existed)");
  }
  PassphraseHash h;
  RPFS_RETURN_IF_ERROR(ParsePassphraseHash(encoded_hash, &h));
  DeriveKey(h.hash.data(), h.hash.size(), key);
  return Status::OK();
}

Status PairingKeyFromPassphrase(const std::string& passphrase, const std::string& salt_hex,
                                uint64_t n, uint64_t r, uint64_t p, PairingKey* key) {
  // Salt and hash sizes as the server's encoded hash has them.
  PassphraseHash h;
  Status s = ParsePassphraseHash("scrypt$1$1$1$" + salt_hex + "$00", &h);
  if (!s.ok()) return Status::InvalidArgument("the server sent a malformed salt");
  std::vector<unsigned char> hash(32);
  RPFS_RETURN_IF_ERROR(Scrypt(passphrase, h.salt, n, r, p, hash.data(), hash.size()));
  DeriveKey(hash.data(), hash.size(), key);
  return Status::OK();
}

std::string PairingProof(const PairingKey& key, const char* role, const std::string& server_nonce,
                         const std::string& client_nonce, const uint8_t exporter[32]) {
  std::string msg = std::string(role) + '\0' + server_nonce + '\0' + client_nonce + '\0';
  msg.append(reinterpret_cast<const char*>(exporter), 32);
  uint8_t mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.key, sizeof key.key, reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &len);
  return Hex(mac, sizeof mac);
}

bool ProofsEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomNonceHex() {
  uint8_t n[32];
  RAND_bytes(n, sizeof n);
  return Hex(n, sizeof n);
}

}  // namespace rpfs::tools
