// The in-memory model the vault tests read views back against: for each
// block, the seqs that wrote it (rpfs::testing::FillVersion's bytes).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {

using ViewModel = std::map<uint64_t, std::map<uint64_t, bool>>;  // block -> seqs written

// Reads every block of `view` and compares it with the model as of
// model_seq (never-written blocks read as zeros).
inline void ExpectViewMatchesModel(Vault& vault, uint32_t disk, View view, ViewModel& model,
                                   uint64_t model_seq, uint64_t blocks, uint32_t bs,
                                   const std::string& what) {
  std::string got(blocks * bs, '\0'), want(bs, '\0');
  Status s = vault.Read(disk, view, 0, got.size(), got.data());
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  for (uint64_t b = 0; b < blocks; ++b) {
    auto& versions = model[b];
    auto it = versions.upper_bound(model_seq);
    if (it == versions.begin()) {
      std::fill(want.begin(), want.end(), '\0');
    } else {
      rpfs::testing::FillVersion(b, std::prev(it)->first, want.data(), bs);
    }
    ASSERT_EQ(0, std::memcmp(got.data() + b * bs, want.data(), bs)) << what << ": block " << b << " differs";
  }
}

}  // namespace rpfs::catalog
