// rpfs init DIR: create a vault (with --encrypt, one whose journal
// payloads are sealed under a key wrapped with the passphrase).
#include <cstdlib>
#include <iostream>

#include "tools/commands/commands.h"
#include "tools/passphrase.h"

namespace rpfs::tools {

void RegisterInit(CLI::App& app, Context* ctx) {
  struct Args {
    std::string dir, block_size = "4096", segment_size = "64M", passphrase_file, max_size = "0";
    int compression = catalog::kDefaultCompressionLevel;
    bool encrypt = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "init", "Create a vault in DIR; without --passphrase-file (or RPFS_PASSPHRASE_FILE) a "
              "passphrase is generated and printed once");
  cmd->add_option("DIR", args->dir, "Vault directory (must not hold a vault)")->required();
  cmd->add_option("--block-size", args->block_size, "Block size, a power of two (default 4096)");
  cmd->add_option("--compression", args->compression,
                  "zstd level for journal payloads: 1 to 19, negative for zstd's fast levels (-1 to -7), 0 = off (default -1)");
  cmd->add_option("--segment-size", args->segment_size, "Maximum journal segment size (default 64M)");
  cmd->add_option("--max-size", args->max_size,
                  "Size cap for journal + catalog (e.g. 500G; default 0 = none): near it, the "
                  "oldest history is reclaimed first, shrinking retention");
  cmd->add_option("--passphrase-file", args->passphrase_file,
                  "Read the vault passphrase from this file (first line; default: the file "
                  "named by RPFS_PASSPHRASE_FILE)");
  cmd->add_flag("--encrypt", args->encrypt,
                "Seal every journal payload with AES-256-GCM under a key wrapped with the "
                "passphrase; opening the vault then needs it (RPFS_PASSPHRASE_FILE or a prompt)");
  cmd->callback([args, ctx] {
    uint64_t bs, seg;
    Status s = ParseSize(args->block_size, &bs);
    if (s.ok()) s = ParseSize(args->segment_size, &seg);
    uint64_t max_size = 0;
    if (s.ok()) s = ParseSize(args->max_size, &max_size);
    if (!s.ok()) return ctx->Fail(s);
    if (bs > UINT32_MAX) return ctx->Fail(Status::InvalidArgument("bad block size " + args->block_size));
    std::string passphrase, file = ctx->Path(args->passphrase_file);
    const char* env = std::getenv("RPFS_PASSPHRASE_FILE");
    if (file.empty() && env != nullptr) file = env;
    bool generated = file.empty();
    if (generated) {
      passphrase = GeneratePassphrase();
    } else if (!(s = ReadPassphraseFile(file, &passphrase)).ok()) {
      return ctx->Fail(s);
    }
    catalog::VaultOptions o;
    o.block_size = static_cast<uint32_t>(bs);
    o.compression_level = args->compression;
    o.max_segment_bytes = seg;
    o.max_size = max_size;
    o.encrypt = args->encrypt;
    o.passphrase = passphrase;
    if (!(s = HashPassphrase(passphrase, &o.passphrase_hash)).ok()) return ctx->Fail(s);
    std::unique_ptr<catalog::Vault> v;
    if (!(s = catalog::Vault::Create(ctx->Path(args->dir), o, catalog::OpenOptions(), &v)).ok()) {
      return ctx->Fail(s);
    }
    ctx->out() << "created " << (args->encrypt ? "encrypted vault " : "vault ") << args->dir
               << " (id " << v->meta().id.ToHex() << ", block size " << bs << ")\n";
    if (generated) {
      ctx->out() << "passphrase: " << passphrase
                 << "\n(shown once: keep it; "
                 << (args->encrypt ? "without it the vault's data cannot be read)\n"
                                   : "replication pairs with this vault by it)\n");
    }
  });
}

}  // namespace rpfs::tools
