// rpfs vault set --max-size S: vault-wide settings kept in the catalog.
#include "catalog/vault.h"
#include "tools/cli_support.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterVault(CLI::App& app, Context* ctx) {
  CLI::App* vault = app.add_subcommand("vault", "Vault-wide settings");
  vault->require_subcommand(1);
  auto max_size = std::make_shared<std::string>();
  CLI::App* set = vault->add_subcommand("set", "Change vault-wide settings");
  set->add_option("--max-size", *max_size,
                  "Size cap for journal + catalog (e.g. 500G; 0 = none): near it, compaction "
                  "reclaims the oldest history first, shrinking retention")
      ->required();
  set->callback([max_size, ctx] {
    uint64_t bytes = 0;
    Status s;
    if (!(s = ParseSize(*max_size, &bytes)).ok()) {
      return ctx->Fail(Status::InvalidArgument("--max-size: " + s.message()));
    }
    std::shared_ptr<catalog::Vault> v;
    if (!(s = ctx->OpenVault(&v)).ok()) return ctx->Fail(s);
    if (!(s = v->SetMaxSize(bytes)).ok()) return ctx->Fail(s);
    ctx->out() << "vault " << v->dir() << ": max size "
               << (bytes ? FormatBytes(bytes) : std::string("none")) << "\n";
  });
}

}  // namespace rpfs::tools
