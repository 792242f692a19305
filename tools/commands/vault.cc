// rpfs vault set --max-size S: vault-wide settings kept in the catalog.
// rpfs vault passphrase --new-passphrase-file F: a new passphrase (an
// encrypted vault's data key is re-wrapped; no data is rewritten).
#include "catalog/vault.h"
#include "tools/cli_support.h"
#include "tools/commands/commands.h"
#include "tools/passphrase.h"

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

  struct PassphraseArgs {
    std::string new_file, current_file;
  };
  auto pa = std::make_shared<PassphraseArgs>();
  CLI::App* pass = vault->add_subcommand(
      "passphrase",
      "Change the vault passphrase (current one from --passphrase-file, RPFS_PASSPHRASE_FILE or "
      "a prompt); an encrypted vault's data key is re-wrapped, no data is rewritten");
  pass->add_option("--new-passphrase-file", pa->new_file, "The new passphrase (first line)")
      ->required();
  pass->add_option("--passphrase-file", pa->current_file,
                   "The current passphrase (first line; needed while the vault is mounted)");
  pass->callback([pa, ctx] {
    std::string next, current;
    Status s = ReadPassphraseFile(ctx->Path(pa->new_file), &next);
    if (!s.ok()) return ctx->Fail(s);
    if (!ctx->vault && ctx->VaultDir().empty()) {
      s = Status::InvalidArgument("no vault given: use --vault DIR or set RPFS_VAULT");
    } else if (!pa->current_file.empty()) {
      s = ReadPassphraseFile(ctx->Path(pa->current_file), &current);
    } else if (ctx->vault) {
      // In the mount daemon: its environment and terminal are not the caller's.
      s = Status::InvalidArgument("vault " + ctx->vault->dir() +
                                  " is mounted: give its current passphrase with --passphrase-file");
    } else {
      s = ReadVaultPassphrase(ctx->VaultDir(), "needs its current passphrase", &current);
    }
    if (!s.ok()) return ctx->Fail(s);
    ctx->passphrase = current;  // opens an encrypted vault, unasked
    std::shared_ptr<catalog::Vault> v;
    if (!(s = ctx->OpenVault(&v)).ok()) return ctx->Fail(s);
    // An encrypted vault checks the passphrase by unwrapping its key;
    // another one against its hash.
    if (!v->encrypted() && !v->meta().passphrase_hash.empty() &&
        !CheckPassphrase(current, v->meta().passphrase_hash)) {
      return ctx->Fail(Status::InvalidArgument("wrong passphrase for vault " + v->dir()));
    }
    std::string hash;
    if (!(s = HashPassphrase(next, &hash)).ok()) return ctx->Fail(s);
    if (!(s = v->ChangePassphrase(current, next, hash)).ok()) return ctx->Fail(s);
    ctx->out() << "vault " << v->dir() << ": passphrase changed"
               << (v->encrypted() ? " (data key re-wrapped; no data rewritten)" : "") << "\n";
  });
}

}  // namespace rpfs::tools
