// rpfs serve [--listen ADDR]: the process server. Receives replication
// streams for this vault over TLS 1.3 until SIGINT/SIGTERM (or, while the
// vault is mounted and the command runs in the mount daemon, until this
// client goes away). See tools/replication/replication_target.h.
#include <unistd.h>

#include "tools/cli_support.h"
#include "tools/commands/commands.h"
#include "tools/replication/replication_target.h"

namespace rpfs::tools {

void RegisterServe(CLI::App& app, Context* ctx) {
  auto listen = std::make_shared<std::string>("0.0.0.0:443");
  CLI::App* cmd = app.add_subcommand(
      "serve", "Process server: receive replication into this vault over TLS 1.3, pairing clients "
               "by this vault's passphrase; runs until interrupted");
  cmd->add_option("--listen", *listen, "Address to listen on, HOST:PORT (default 0.0.0.0:443)");
  cmd->callback([listen, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    ServeOptions o;
    o.listen = *listen;
    o.log = &ctx->err();
    ReplicationServer server(v.get(), o);
    if (!(s = server.Start()).ok()) return ctx->Fail(s);
    ctx->out() << "serving vault " << v->meta().id.ToHex() << " on " << server.address() << std::endl;
    std::function<bool()> stop = ctx->cancelled;
    if (!stop) {
      CatchStopSignals();
      stop = StopRequested;
    }
    server.Run(stop);
  });
}

}  // namespace rpfs::tools
