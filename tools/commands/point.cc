// rpfs point create|list: recovery points.
#include <iostream>

#include <nlohmann/json.hpp>

#include "catalog/group_point.h"
#include "catalog/time_format.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterPoint(CLI::App& app, Context* ctx) {
  CLI::App* point = app.add_subcommand("point", "Recovery points");
  point->require_subcommand(1);

  struct Args {
    std::string group, label;
    bool app = false, json = false;
  };
  auto a = std::make_shared<Args>();

  CLI::App* create = point->add_subcommand(
      "create", "Take a recovery point of a group (crash-consistent; --app: app-consistent)");
  create->add_option("GROUP", a->group, "Protection group")->required();
  create->add_flag("--app", a->app,
                   "App-consistent: run the freeze hook, hold the group's writes around the "
                   "marker, run the thaw hook; prints how long writes were held");
  create->add_option("--label", a->label, "A name for the point (not all digits)");
  create->callback([a, ctx] {
    std::shared_ptr<catalog::Vault> v;
    catalog::Group g;
    Status s;
    if (!(s = ctx->OpenVault(&v)).ok() || !(s = v->GetGroup(a->group, &g)).ok()) {
      return ctx->Fail(s);
    }
    catalog::Point p;
    if (!(s = catalog::TakeGroupPoint(*v, g.name, a->app, a->label, &p)).ok()) return ctx->Fail(s);
    ctx->out() << "point " << p.id << " (" << p.kind << ") of group " << p.group << " at seq "
              << p.seq << ", " << catalog::FormatRfc3339(p.time_ns);
    if (a->app) ctx->out() << ", writes held " << p.hold_ns / 1000 << " us";
    ctx->out() << "\n";
  });

  CLI::App* list = point->add_subcommand("list", "List recovery points, oldest first");
  list->add_option("GROUP", a->group, "Only this group");
  list->add_flag("--json", a->json, "Print JSON");
  list->callback([a, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Group g;
    if (!a->group.empty() && !(s = v->GetGroup(a->group, &g)).ok()) return ctx->Fail(s);
    auto points = v->ListPoints(a->group);
    if (a->json) {
      nlohmann::json j = nlohmann::json::array();
      for (auto& p : points) {
        nlohmann::json row = p;
        row["time"] = catalog::FormatRfc3339(p.time_ns);
        j.push_back(row);
      }
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    ctx->Printf("%-6s %-12s %-6s %-12s %-25s %s\n", "ID", "GROUP", "KIND", "SEQ", "TIME", "LABEL");
    for (auto& p : points) {
      ctx->Printf("%-6llu %-12s %-6s %-12llu %-25s %s\n", static_cast<unsigned long long>(p.id),
                  p.group.c_str(), p.kind.c_str(), static_cast<unsigned long long>(p.seq),
                  catalog::FormatRfc3339(p.time_ns).c_str(), p.label.c_str());
    }
  });
}

}  // namespace rpfs::tools
