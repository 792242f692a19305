// Verification of a vault: every record checksum of every segment (and,
// in an encrypted vault, every GCM tag), and with `deep` every index entry
// against the record it names.
//
// Problems are collected, not fatal: verify reports every damaged place it
// can reach (after a bad record whose length field is sane it carries on
// with the next record; otherwise the rest of that segment is unreadable).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "catalog/vault.h"

namespace rpfs::catalog {

struct VerifyReport {
  uint32_t segments = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t index_entries = 0;  // checked by deep
  std::vector<std::string> problems;  // "segment S offset O: what"
  // What verify could not do but is not damage: e.g. flushing the index
  // on a full disk (then it checks what is on disk and says so).
  std::vector<std::string> warnings;
};

// Status is not ok only when verification itself could not run; damage
// goes to report->problems.
Status VerifyVault(Vault& vault, bool deep, VerifyReport* report,
                   const std::function<void(uint64_t done, uint64_t total)>& progress = nullptr);

}  // namespace rpfs::catalog
