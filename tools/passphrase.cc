#include "tools/passphrase.h"
#include "journal/coding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <termios.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

namespace rpfs::tools {
namespace {

constexpr uint64_t kN = 1 << 15, kR = 8, kP = 1;

std::string Hex(const uint8_t* p, size_t n) { return HexString(p, n); }

bool Unhex(const std::string& s, std::vector<unsigned char>* out) {
  if (s.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    out->push_back(static_cast<unsigned char>(std::stoul(s.substr(i, 2), nullptr, 16)));
  }
  return true;
}

bool Scrypt(const std::string& pass, const unsigned char* salt, size_t salt_len, uint64_t n,
            uint64_t r, uint64_t p, unsigned char* out, size_t out_len) {
  return EVP_PBE_scrypt(pass.data(), pass.size(), salt, salt_len, n, r, p, 64ull << 20, out,
                        out_len) == 1;
}

}  // namespace

std::string GeneratePassphrase() {
  static const char* alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  unsigned char raw[30];
  RAND_bytes(raw, sizeof raw);
  std::string s;
  for (size_t i = 0; i < sizeof raw; ++i) {
    if (i > 0 && i % 5 == 0) s += '-';
    s += alphabet[raw[i] & 31];
  }
  return s;
}

Status ReadPassphraseFile(const std::string& path, std::string* passphrase) {
  std::ifstream f(path);
  if (!f) return Status::InvalidArgument("cannot read passphrase file " + path);
  std::getline(f, *passphrase);
  if (!passphrase->empty() && passphrase->back() == '\r') passphrase->pop_back();
  if (passphrase->empty()) return Status::InvalidArgument("passphrase file " + path + " is empty");
  return Status::OK();
}

Status PromptPassphrase(const std::string& prompt, std::string* passphrase) {
  if (::isatty(STDIN_FILENO) != 1) {
    return Status::InvalidArgument("no terminal to ask for a passphrase on");
  }
  std::cerr << prompt << std::flush;
  termios saved;
  const bool quiet = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (quiet) {
    termios t = saved;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
  }
  passphrase->clear();
  std::getline(std::cin, *passphrase);
  if (quiet) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  std::cerr << "\n";
  if (!passphrase->empty() && passphrase->back() == '\r') passphrase->pop_back();
  if (passphrase->empty()) return Status::InvalidArgument("empty passphrase");
  return Status::OK();
}

Status HashPassphrase(const std::string& passphrase, std::string* encoded) {
  unsigned char salt[16], hash[32];
  if (RAND_bytes(salt, sizeof salt) != 1) return Status::Internal("no random bytes for the salt");
  if (!Scrypt(passphrase, salt, sizeof salt, kN, kR, kP, hash, sizeof hash)) {
    return Status::Internal("scrypt failed");
  }
  std::ostringstream o;
  o << "scrypt$" << kN << "$" << kR << "$" << kP << "$" << Hex(salt, sizeof salt) << "$"
    << Hex(hash, sizeof hash);
  *encoded = o.str();
  return Status::OK();
}

bool CheckPassphrase(const std::string& passphrase, const std::string& encoded) {
  PassphraseHash h;
  if (!ParsePassphraseHash(encoded, &h).ok()) return false;
  std::vector<unsigned char> got(h.hash.size());
  if (!rpfs::tools::Scrypt(passphrase, h.salt, h.n, h.r, h.p, got.data(), got.size()).ok()) {
    return false;
  }
  return CRYPTO_memcmp(got.data(), h.hash.data(), h.hash.size()) == 0;
}

Status ParsePassphraseHash(const std::string& encoded, PassphraseHash* out) {
  std::vector<std::string> parts;
  std::stringstream ss(encoded);
  std::string part;
  while (std::getline(ss, part, '$')) parts.push_back(part);
  const Status bad = Status::Corruption("catalog: malformed passphrase hash");
  if (parts.size() != 6 || parts[0] != "scrypt") return bad;
  try {
    if (!Unhex(parts[4], &out->salt) || !Unhex(parts[5], &out->hash)) return bad;
    out->n = std::stoull(parts[1]);
    out->r = std::stoull(parts[2]);
    out->p = std::stoull(parts[3]);
  } catch (const std::exception&) {
    return bad;
  }
  if (out->hash.empty() || out->salt.empty()) return bad;
  return Status::OK();
}

Status Scrypt(const std::string& passphrase, const std::vector<unsigned char>& salt, uint64_t n,
              uint64_t r, uint64_t p, unsigned char* out, size_t out_len) {
  if (n < 2 || n > (1u << 20) || (n & (n - 1)) != 0 || r == 0 || p == 0 || r * p > 64) {
    return Status::InvalidArgument("scrypt costs out of range (N=" + std::to_string(n) +
                                   ", r=" + std::to_string(r) + ", p=" + std::to_string(p) + ")");
  }
  if (!Scrypt(passphrase, salt.data(), salt.size(), n, r, p, out, out_len)) {
    return Status::Internal("scrypt failed");
  }
  return Status::OK();
}

}  // namespace rpfs::tools
