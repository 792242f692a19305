// rpfs replicate GROUP --to ADDR --target-passphrase-file F [--once] [--json]:
// ships the group to the process server of another vault and keeps
// following its writes (tools/replication/replication_source.h).
#include <unistd.h>

#include "tools/cli_support.h"
#include "tools/commands/commands.h"
#include "tools/passphrase.h"
#include "tools/replication/replication_source.h"

namespace rpfs::tools {

void RegisterReplicate(CLI::App& app, Context* ctx) {
  struct Args {
    std::string group, to, passphrase_file, max_rate = "0", batch_size = "4M";
    bool once = false, json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "replicate",
      "Replicate a group to another vault's process server (rpfs serve) over TLS: first what the "
      "target lacks, then every write as it comes; resumes where the target stands");
  cmd->add_option("GROUP", a->group, "Group to replicate")->required();
  cmd->add_option("--to", a->to, "The target's process server, HOST:PORT (port 443 if left out)")
      ->required();
  cmd->add_option("--target-passphrase-file", a->passphrase_file,
                  "File whose first line is the target vault's passphrase")
      ->required();
  cmd->add_flag("--once", a->once,
                "Stop once the target holds everything this vault had durable at the start");
  cmd->add_flag("--json", a->json, "Print a JSON status line about once a second as acknowledgements arrive, and at the end");
  cmd->add_option("--max-rate", a->max_rate,
                  "Send at most this many bytes per second (e.g. 50M; default 0 = no cap)");
  cmd->add_option("--batch-size", a->batch_size,
                  "Bytes per batch the target applies and acknowledges as one (default 4M)");
  cmd->callback([a, ctx] {
    ReplicateOptions o;
    Status s = ReadPassphraseFile(ctx->Path(a->passphrase_file), &o.passphrase);
    if (!s.ok()) return ctx->Fail(s);
    uint64_t batch = 0;
    if (!(s = ParseSize(a->max_rate, &o.max_rate)).ok()) {
      return ctx->Fail(Status::InvalidArgument("--max-rate: " + s.message()));
    }
    if (!(s = ParseSize(a->batch_size, &batch)).ok() || batch == 0 || batch > (16u << 20)) {
      return ctx->Fail(Status::InvalidArgument("--batch-size: between 1 and 16M"));
    }
    o.batch_bytes = batch;
    std::shared_ptr<catalog::Vault> v;
    if (!(s = ctx->OpenVault(&v)).ok()) return ctx->Fail(s);
    o.group = a->group;
    o.target = a->to;
    o.once = a->once;
    o.json = a->json;
    o.progress = !a->json && !ctx->vault && ::isatty(STDERR_FILENO);
    o.out = &ctx->out();
    o.err = &ctx->err();
    o.cancelled = ctx->cancelled;
    if (!o.cancelled) {
      CatchStopSignals();
      o.cancelled = StopRequested;
    }
    ReplicateReport r;
    s = RunReplication(*v, o, &r);
    if (!s.ok()) return ctx->Fail(s);
    if (!a->json) {
      ctx->out() << "group " << a->group << " at " << a->to << ": applied up to source seq "
                 << r.acked_seq << " (" << r.records << " records, " << FormatBytes(r.logical_bytes)
                 << " of disk data as " << FormatBytes(r.payload_bytes) << " on the wire, "
                 << r.batches << " batches, " << r.sessions << " session(s))" << std::endl;
    }
  });
}

}  // namespace rpfs::tools
