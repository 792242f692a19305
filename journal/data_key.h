// The data key of an encrypted vault, and how the catalog keeps it.
//
// Payloads are sealed (journal/payload_sealer.h) under a random 32-byte
// data key made at `rpfs init --encrypt`. The catalog holds it only
// wrapped: AES-256-GCM under a key-encryption key derived from the
// passphrase with scrypt (N=2^15, r=8, p=1) and a random salt of its own,
// apart from the salted hash that replication pairing checks, so that
// hash cannot unwrap it. A new passphrase re-wraps the key; no payload is
// rewritten. Encoded as
//
//   "scrypt-gcm$N$r$p$<salt hex>$<nonce hex>$<wrapped key and tag hex>"
//
// Cost: one scrypt (about 0.1 s, 32 MiB) per wrap or unwrap.
#pragma once

#include <cstdint>
#include <string>

#include "journal/payload_sealer.h"
#include "journal/status.h"

namespace rpfs::journal {

struct DataKey {
  uint8_t bytes[kDataKeySize] = {};
  DataKey() = default;
  DataKey(const DataKey& other);
  DataKey& operator=(const DataKey& other);
  ~DataKey();  // wipes the key
};

// A fresh random key.
Status NewDataKey(DataKey* key);
Status WrapDataKey(const DataKey& key, const std::string& passphrase, std::string* wrapped);
// InvalidArgument("wrong passphrase") if the passphrase does not unwrap
// it; Corruption if `wrapped` is malformed.
Status UnwrapDataKey(const std::string& wrapped, const std::string& passphrase, DataKey* key);

}  // namespace rpfs::journal
