// The vault passphrase: generated or read from a file, and kept in the
// catalog only as a salted scrypt hash that cannot be read back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "journal/status.h"

namespace rpfs::tools {

std::string GeneratePassphrase();  // 6 groups of 5 base32 characters
// First line of the file, without its newline; empty or unreadable fails.
Status ReadPassphraseFile(const std::string& path, std::string* passphrase);
// Asks on the terminal: `prompt` on stderr, a line from stdin with echo
// off. InvalidArgument if stdin is not a terminal or the line is empty.
Status PromptPassphrase(const std::string& prompt, std::string* passphrase);
// "scrypt$N$r$p$<salt hex>$<hash hex>".
Status HashPassphrase(const std::string& passphrase, std::string* encoded);
// True if passphrase matches an encoded hash.
bool CheckPassphrase(const std::string& passphrase, const std::string& encoded);

// The parts of an encoded hash (what pairing needs).
struct PassphraseHash {
  uint64_t n = 0, r = 0, p = 0;
  std::vector<unsigned char> salt, hash;
};
Status ParsePassphraseHash(const std::string& encoded, PassphraseHash* out);
// scrypt(passphrase, salt) with the given costs into out[0, out_len).
// Costs a hostile peer could inflate are refused (n > 2^20, r*p > 64).
Status Scrypt(const std::string& passphrase, const std::vector<unsigned char>& salt, uint64_t n,
              uint64_t r, uint64_t p, unsigned char* out, size_t out_len);

}  // namespace rpfs::tools
