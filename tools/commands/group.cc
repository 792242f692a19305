// rpfs group create|set|list: protection groups and their policy.
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "tools/commands/commands.h"
#include "tools/replication/replication_status.h"

namespace rpfs::tools {

void RegisterGroup(CLI::App& app, Context* ctx) {
  CLI::App* group = app.add_subcommand("group", "Protection groups: consistency groups of disks with a policy");
  group->require_subcommand(1);

  struct CreateArgs {
    std::string name, retention = "72h", crash_every = "5m", app_every = "4h", rpo = "30m",
                freeze_hook, thaw_hook;
  };
  auto c = std::make_shared<CreateArgs>();
  CLI::App* create = group->add_subcommand("create", "Create a group");
  create->add_option("NAME", c->name, "Group name")->required();
  create->add_option("--retention", c->retention, "How far back points are kept (default 72h)");
  create->add_option("--crash-every", c->crash_every, "Crash-consistent point interval (default 5m)");
  create->add_option("--app-every", c->app_every, "App-consistent point interval (default 4h)");
  create->add_option("--rpo", c->rpo, "RPO alert threshold (default 30m)");
  create->add_option("--freeze-hook", c->freeze_hook, "Command run before an app-consistent point");
  create->add_option("--thaw-hook", c->thaw_hook, "Command run after an app-consistent point");
  create->callback([c, ctx] {
    catalog::Group g;
    g.name = c->name;
    Status s = ParseDuration(c->retention, &g.retention_s);
    if (s.ok()) s = ParseDuration(c->crash_every, &g.crash_every_s);
    if (s.ok()) s = ParseDuration(c->app_every, &g.app_every_s);
    if (s.ok()) s = ParseDuration(c->rpo, &g.rpo_s);
    if (!s.ok()) return ctx->Fail(s);
    g.freeze_hook = c->freeze_hook;
    g.thaw_hook = c->thaw_hook;
    std::shared_ptr<catalog::Vault> v;
    if (!(s = ctx->OpenVault(&v)).ok() || !(s = v->CreateGroup(g)).ok()) return ctx->Fail(s);
    ctx->out() << "created group " << g.name << " (retention " << FormatDuration(g.retention_s)
              << ", crash every " << FormatDuration(g.crash_every_s) << ", app every "
              << FormatDuration(g.app_every_s) << ")\n";
  });

  struct SetArgs {
    std::string name;
    std::optional<std::string> retention, crash_every, app_every, rpo, freeze_hook, thaw_hook;
  };
  auto sa = std::make_shared<SetArgs>();
  CLI::App* set = group->add_subcommand("set", "Change a group's policy (only the options given)");
  set->add_option("NAME", sa->name, "Group name")->required();
  set->add_option("--retention", sa->retention, "How far back points are kept");
  set->add_option("--crash-every", sa->crash_every, "Crash-consistent point interval");
  set->add_option("--app-every", sa->app_every, "App-consistent point interval");
  set->add_option("--rpo", sa->rpo, "RPO alert threshold");
  set->add_option("--freeze-hook", sa->freeze_hook, "Command run before an app-consistent point");
  set->add_option("--thaw-hook", sa->thaw_hook, "Command run after an app-consistent point");
  set->callback([sa, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Group g;
    s = v->SetGroupPolicy(sa->name, [&](catalog::Group* row) {
      auto duration = [](const std::optional<std::string>& text, uint64_t* out) {
        return text ? ParseDuration(*text, out) : Status::OK();
      };
      RPFS_RETURN_IF_ERROR(duration(sa->retention, &row->retention_s));
      RPFS_RETURN_IF_ERROR(duration(sa->crash_every, &row->crash_every_s));
      RPFS_RETURN_IF_ERROR(duration(sa->app_every, &row->app_every_s));
      RPFS_RETURN_IF_ERROR(duration(sa->rpo, &row->rpo_s));
      if (sa->freeze_hook) row->freeze_hook = *sa->freeze_hook;
      if (sa->thaw_hook) row->thaw_hook = *sa->thaw_hook;
      return Status::OK();
    }, &g);
    if (!s.ok()) return ctx->Fail(s);
    ctx->out() << "group " << g.name << ": retention " << FormatDuration(g.retention_s)
               << ", crash every " << FormatDuration(g.crash_every_s) << ", app every "
               << FormatDuration(g.app_every_s) << ", rpo " << FormatDuration(g.rpo_s) << "\n";
  });

  auto json = std::make_shared<bool>(false);
  CLI::App* list = group->add_subcommand("list", "List groups");
  list->add_flag("--json", *json, "Print JSON");
  list->callback([json, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    auto groups = v->ListGroups();
    nlohmann::json rows = nlohmann::json::array();
    for (auto& g : groups) {
      nlohmann::json row = g, repl;
      if (!(s = ReplicationStatusJson(*v, g, &repl)).ok()) return ctx->Fail(s);
      if (!repl.is_null()) row["replication"] = repl;
      rows.push_back(row);
    }
    if (*json) {
      ctx->out() << rows.dump(2) << "\n";
      return;
    }
    ctx->Printf("%-16s %-10s %-10s %-10s %-8s %-6s %-5s %s\n", "GROUP", "STATE", "RETENTION", "CRASH", "APP",
                "RPO", "DISKS", "REPLICATION");
    auto disks = v->ListDisks();
    for (size_t i = 0; i < groups.size(); ++i) {
      const auto& g = groups[i];
      int n = 0;
      for (auto& d : disks) n += d.group == g.name;
      const std::string repl = rows[i].contains("replication") ? ReplicationStatusLine(rows[i]["replication"]) : "-";
      ctx->Printf("%-16s %-10s %-10s %-10s %-8s %-6s %-5d %s\n", g.name.c_str(), g.state.c_str(),
                  FormatDuration(g.retention_s).c_str(), FormatDuration(g.crash_every_s).c_str(),
                  FormatDuration(g.app_every_s).c_str(), FormatDuration(g.rpo_s).c_str(), n, repl.c_str());
    }
  });
}

}  // namespace rpfs::tools
