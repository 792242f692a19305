// rpfs prune [--json]: applies retention now (the mount daemon does the
// same on its point schedule): points older than their group's window
// expire. Reclaiming the journal space nothing reachable needs any more
// (compaction) is not built yet; prune says so rather than pretend.
#include <nlohmann/json.hpp>

#include "catalog/time_format.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterPrune(CLI::App& app, Context* ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* prune = app.add_subcommand(
      "prune", "Apply retention now: expire points older than their group's window");
  prune->add_flag("--json", *json, "Print JSON");
  prune->callback([json, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    std::vector<catalog::Point> expired;
    if (!(s = v->ExpirePoints(&expired)).ok()) return ctx->Fail(s);
    if (*json) {
      nlohmann::json j = {{"expired_points", expired}, {"reclaimed_bytes", 0}};
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    for (const catalog::Point& p : expired) {
      ctx->Printf("expired point %llu (group %s, %s, %s)\n", static_cast<unsigned long long>(p.id),
                  p.group.c_str(), p.kind.c_str(), catalog::FormatRfc3339(p.time_ns).c_str());
    }
    ctx->Printf("%zu points expired; journal space reclaimed: 0 bytes (compaction is not built yet)\n",
                expired.size());
  });
}

}  // namespace rpfs::tools
