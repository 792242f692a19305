// The vault passphrase: generated or read from a file, and kept in the
// catalog only as a salted scrypt hash that cannot be read back.
#pragma once

#include <string>

#include "journal/status.h"

namespace rpfs::tools {

std::string GeneratePassphrase();  // 6 groups of 5 base32 characters
// First line of the file, without its newline; empty or unreadable fails.
Status ReadPassphraseFile(const std::string& path, std::string* passphrase);
// "scrypt$N$r$p$<salt hex>$<hash hex>".
Status HashPassphrase(const std::string& passphrase, std::string* encoded);
// True if passphrase matches an encoded hash.
bool CheckPassphrase(const std::string& passphrase, const std::string& encoded);

}  // namespace rpfs::tools
