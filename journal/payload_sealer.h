// PayloadSealer: AES-256-GCM sealing of journal record payloads, for a
// vault made with `rpfs init --encrypt`.
//
// The journal seals every payload on Append (flag kSealed) and opens it on
// every read, so the layers above see plaintext only; the stored layout
// is drawn in record_format.h:
//
//    nonce (12) | ciphertext (as long as the plaintext) | tag (16)
//
// Nonce: the seal epoch (LE u32), then a counter of this sealer's seals
// (LE u64, from 0). The catalog bumps the epoch durably at every open of
// the vault, before any append, so no nonce repeats under the vault's key.
// AAD: the record's type, seq, time, disk, branch, offset and length and
// the flags that say how to read the payload (kZstd, kZero). kCopy,
// kContinued and kSealed stay out: compaction copies a sealed record as
// it is, adding kCopy. The crc still covers the stored bytes, so a torn
// tail is found without the key; a record whose crc matches but whose
// tag does not is damage or tampering, never a torn write.
//
// Thread-safe. Cipher contexts (key schedule done once) are pooled: a seal
// or open allocates nothing once the pool is warm. Cost: one AES-GCM pass
// over the payload (AES-NI: over 1 GB/s a core).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "journal/record_format.h"
#include "journal/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace rpfs::journal {

// The record flag (RecordFlags) of a sealed payload.
constexpr uint8_t kSealed = 16;

constexpr size_t kDataKeySize = 32;
constexpr size_t kSealNonceSize = 12;
constexpr size_t kSealTagSize = 16;
constexpr size_t kSealOverhead = kSealNonceSize + kSealTagSize;

class PayloadSealer {
 public:
  PayloadSealer(const uint8_t key[kDataKeySize], uint32_t epoch);
  ~PayloadSealer();
  PayloadSealer(const PayloadSealer&) = delete;
  PayloadSealer& operator=(const PayloadSealer&) = delete;

  // Seals payload[0, h.payload_len) of the record h describes (its
  // plaintext header) into out[0, h.payload_len + kSealOverhead).
  Status Seal(const RecordHeader& h, const void* payload, uint8_t* out);

  // Opens the payload of a stored, sealed record (h: its stored header,
  // sealed: its h.payload_len stored bytes) into out[0, h.payload_len -
  // kSealOverhead). out may be sealed + kSealNonceSize (in place), but
  // must not overlap it otherwise. False if the tag does not verify.
  bool Open(const RecordHeader& h, const uint8_t* sealed, uint8_t* out) const;
  // The same with the three parts apart (a read that scattered them):
  // text_len bytes of ciphertext at text, opened into out (which may be
  // text itself). On failure out is wiped.
  bool OpenParts(const RecordHeader& h, const uint8_t nonce[kSealNonceSize], const uint8_t* text,
                 size_t text_len, const uint8_t tag[kSealTagSize], uint8_t* out) const;

  uint32_t epoch() const { return epoch_; }

 private:
  // Contexts with the key set, one direction each; taken and given back.
  class Pool {
   public:
    Pool(const uint8_t* key, bool encrypt) : key_(key), encrypt_(encrypt) {}
    ~Pool();
    EVP_CIPHER_CTX* Take();  // nullptr only if OpenSSL fails
    void Give(EVP_CIPHER_CTX* ctx);

   private:
    const uint8_t* key_;
    const bool encrypt_;
    std::mutex mu_;
    std::vector<EVP_CIPHER_CTX*> free_;
  };

  uint8_t key_[kDataKeySize];
  const uint32_t epoch_;
  std::atomic<uint64_t> counter_{0};
  mutable Pool sealers_{key_, true}, openers_{key_, false};
};

// The header readers hand upward for a sealed stored one: kSealed
// cleared, payload_len the plaintext's.
RecordHeader PlainHeader(const RecordHeader& stored);

// For a record read whole into *record (header, then payload), its crc
// already checked: with a sealer, opens the payload in place and leaves
// the plaintext record in *record (header re-encoded to match) and *h.
// A vault seals every record or none: a record that is not sealed when
// the sealer is there, or is without it, is Corruption too. `where` names
// the record ("segment 00000002.seg offset 4096").
Status OpenRecordInPlace(const PayloadSealer* sealer, const std::string& where, RecordHeader* h,
                         std::string* record);

}  // namespace rpfs::journal
