// Pairing: how `rpfs replicate` and `rpfs serve` prove to each other that
// both know the target vault's passphrase, without it (or anything that
// can be replayed) on the wire.
//
// The target vault keeps only the scrypt hash of its passphrase
// (tools/passphrase.h). The server sends the hash's salt and costs and a
// random nonce; the client runs scrypt on the passphrase it was given and
// both derive the pairing key K = HMAC-SHA256(hash, "rpfs pairing v1").
// Then
//
//   client proof = HMAC-SHA256(K, "client" || server nonce || client nonce || exporter)
//   server proof = HMAC-SHA256(K, "server" || server nonce || client nonce || exporter)
//
// where exporter is 32 bytes of the TLS session's keying material: a
// proof is good for this one TLS channel only, so a relay between two
// channels (a man in the middle) cannot pass one on. A wrong passphrase
// gives a wrong client proof; the server says so and hangs up.
#pragma once

#include <cstdint>
#include <string>

#include "journal/status.h"

namespace rpfs::tools {

struct PairingKey {
  uint8_t key[32] = {};
};

// The server's side: from the vault's encoded passphrase hash.
Status PairingKeyFromHash(const std::string& encoded_hash, PairingKey* key);
// The client's side: from the passphrase and the server's Hello fields.
Status PairingKeyFromPassphrase(const std::string& passphrase, const std::string& salt_hex,
                                uint64_t n, uint64_t r, uint64_t p, PairingKey* key);

// "client" or "server" proof, hex. Nonces are hex strings as sent.
std::string PairingProof(const PairingKey& key, const char* role, const std::string& server_nonce,
                         const std::string& client_nonce, const uint8_t exporter[32]);
bool ProofsEqual(const std::string& a, const std::string& b);  // constant time
std::string RandomNonceHex();  // 32 random bytes

}  // namespace rpfs::tools
