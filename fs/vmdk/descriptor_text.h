// The lexical pieces of a VMDK descriptor's text, shared by its two
// readers: the import's parser (vmdk_descriptor_parser.h, hostile files)
// and the check of a rewrite through the mount (DescriptorKeepsExtent in
// vmdk_descriptor.h). Blanks are space and tab, as qemu's sscanf sees them.
// Pure, inline, O(length).
#pragma once

#include <string>
#include <string_view>

namespace rpfs::fs::descriptor_text {

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }
inline bool IsControl(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// What a ddb or header key may hold.
inline bool IsKeyChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '_' || c == '-';
}

inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Removes leading blanks; false if there were none.
inline bool ConsumeBlanks(std::string_view* s) {
  size_t n = 0;
  while (n < s->size() && IsBlank((*s)[n])) ++n;
  s->remove_prefix(n);
  return n > 0;
}

// The leading run of non-blank characters, removed from *s.
inline std::string_view ConsumeToken(std::string_view* s) {
  size_t n = 0;
  while (n < s->size() && !IsBlank((*s)[n])) ++n;
  std::string_view token = s->substr(0, n);
  s->remove_prefix(n);
  return token;
}

// ASCII lower case (keys are compared case-insensitively).
inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace rpfs::fs::descriptor_text
