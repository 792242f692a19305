// One Register function per command file in tools/commands/; main() calls
// them all. Each adds its subcommand(s) to the app and sets ctx->exit_code
// from its callback.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/cli_support.h"

namespace rpfs::tools {

void RegisterInit(CLI::App& app, Context* ctx);
void RegisterGroup(CLI::App& app, Context* ctx);
void RegisterDisk(CLI::App& app, Context* ctx);
void RegisterPoint(CLI::App& app, Context* ctx);
void RegisterExport(CLI::App& app, Context* ctx);
void RegisterVerify(CLI::App& app, Context* ctx);
void RegisterStat(CLI::App& app, Context* ctx);
void RegisterMount(CLI::App& app, Context* ctx);
void RegisterFailover(CLI::App& app, Context* ctx);  // failover, failover cleanup, reprotect
void RegisterFailback(CLI::App& app, Context* ctx);
void RegisterDiff(CLI::App& app, Context* ctx);
void RegisterJobs(CLI::App& app, Context* ctx);
void RegisterPrune(CLI::App& app, Context* ctx);
void RegisterVault(CLI::App& app, Context* ctx);
void RegisterServe(CLI::App& app, Context* ctx);      // replication target
void RegisterReplicate(CLI::App& app, Context* ctx);  // replication source
void RegisterPlan(CLI::App& app, Context* ctx);       // recovery plans

}  // namespace rpfs::tools
