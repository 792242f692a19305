// rpfs verify [--deep]: check every checksum (and, deep, the index).
#include <iostream>

#include "catalog/vault_verify.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterVerify(CLI::App& app, Context* ctx) {
  auto deep = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check every journal record's checksum (and GCM tag, in an encrypted vault); "
                "exit 2 naming each damaged place");
  cmd->add_flag("--deep", *deep, "Also check every index entry against the record it names");
  cmd->callback([deep, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::VerifyReport r;
    Progress progress("verify");
    s = catalog::VerifyVault(*v, *deep, &r,
                             [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
    if (!s.ok()) return ctx->Fail(s);
    for (const std::string& w : r.warnings) ctx->err() << "rpfs: warning: " << w << "\n";
    for (const std::string& p : r.problems) ctx->err() << "rpfs: corruption: " << p << "\n";
    ctx->out() << "verified " << r.segments << " segments, " << r.records << " records, "
              << FormatBytes(r.bytes);
    if (*deep) ctx->out() << ", " << r.index_entries << " index entries";
    ctx->out() << ": " << (r.problems.empty() ? "clean" : std::to_string(r.problems.size()) + " problems")
              << "\n";
    if (!r.problems.empty()) ctx->exit_code = kExitCorrupt;
  });
}

}  // namespace rpfs::tools
