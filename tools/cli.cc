// RunCli: the command tree of rpfs, used by main() and, for commands
// forwarded over the control socket, by the mount daemon.
#include <exception>

#include "tools/commands/commands.h"

namespace rpfs::tools {

int RunCli(const std::vector<std::string>& args, Context* ctx) {
  CLI::App app{
      "rpfs - recovery point file system: VM disk replicas kept as a checksummed journal,\n"
      "with recovery points, clones and failback. Exit codes: 0 ok, 1 user error,\n"
      "2 corruption found, 3 internal error.",
      "rpfs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.add_option("--vault", ctx->vault_dir, "Vault directory (default: $RPFS_VAULT)");
  RegisterInit(app, ctx);
  RegisterGroup(app, ctx);
  RegisterDisk(app, ctx);
  RegisterPoint(app, ctx);
  RegisterExport(app, ctx);
  RegisterVerify(app, ctx);
  RegisterStat(app, ctx);
  RegisterMount(app, ctx);
  RegisterFailover(app, ctx);
  RegisterFailback(app, ctx);
  RegisterDiff(app, ctx);
  RegisterJobs(app, ctx);
  RegisterPrune(app, ctx);
  RegisterVault(app, ctx);
  RegisterServe(app, ctx);
  RegisterReplicate(app, ctx);
  RegisterPlan(app, ctx);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them so
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, ctx->out(), ctx->err());
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, ctx->out(), ctx->err());
  } catch (const CLI::ParseError& e) {
    // CLI11 reports a mistyped command as a missing one; name it instead.
    // Walk the words down the command tree until one is not a command.
    const CLI::App* at = &app;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (arg == "--vault") {
        ++i;
        continue;
      }
      if (arg.rfind("-", 0) == 0) continue;
      auto subs = at->get_subcommands([](const CLI::App*) { return true; });
      if (subs.empty()) break;  // a leaf command: the rest are its arguments
      const CLI::App* next = nullptr;
      for (const CLI::App* sub : subs) {
        if (sub->check_name(arg)) next = sub;
      }
      if (next == nullptr) {
        std::string path = at == &app ? "" : at->get_name() + " ";
        ctx->err() << "rpfs: unknown command '" << path << arg << "' (see rpfs " << path
                   << "--help)" << std::endl;
        return kExitUser;
      }
      at = next;
    }
    ctx->err() << "rpfs: " << e.what() << " (see rpfs --help)" << std::endl;
    return kExitUser;
  } catch (const std::exception& e) {
    ctx->err() << "rpfs: internal error: " << e.what() << std::endl;
    return kExitInternal;
  }
  return ctx->exit_code;
}

}  // namespace rpfs::tools
