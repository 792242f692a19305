// rpfs stat [--json]: what the vault holds and how big it is.
#include <iostream>

#include <nlohmann/json.hpp>

#include "catalog/time_format.h"
#include "tools/commands/commands.h"
#include "tools/failback_plan.h"

namespace rpfs::tools {

void RegisterStat(CLI::App& app, Context* ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("stat", "Vault sizes, history covered, groups and disks");
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([json, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::VaultStats st;
    if (!(s = v->Stats(&st)).ok()) return ctx->Fail(s);
    nlohmann::json j = {
        {"vault", v->dir()},
        {"id", v->meta().id.ToHex()},
        {"block_size", v->block_size()},
        {"journal_bytes", st.journal_bytes},
        {"catalog_bytes", st.catalog_bytes},
        {"segments", st.segments},
        {"last_seq", st.last_seq},
        {"block_versions", st.block_versions},
        {"created", catalog::FormatRfc3339(v->meta().created_ns)},
        {"last_write", st.last_time_ns ? catalog::FormatRfc3339(st.last_time_ns) : ""},
    };
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : v->ListGroups()) {
      auto points = v->ListPoints(g.name);
      nlohmann::json row = {{"name", g.name},
                            {"state", g.state},
                            {"retention_promised_s", g.retention_s},
                            {"points", points.size()}};
      row["oldest_point"] = points.empty() ? "" : catalog::FormatRfc3339(points.front().time_ns);
      row["newest_point"] = points.empty() ? "" : catalog::FormatRfc3339(points.back().time_ns);
      catalog::Branch active;
      if (v->GetBranch(g.active_branch, &active).ok()) row["active_branch"] = active.name;
      if (g.state == "failed-over" || g.state == "reprotected") {
        // What failback would send now, and the journal it needs kept.
        FailbackPending p;
        if (!(s = MeasureFailbackPending(*v, g.name, &p)).ok()) return ctx->Fail(s);
        row["failback_pending_bytes"] = p.bytes;
        row["failback_pending_blocks"] = p.blocks;
        row["failback_journal_bytes"] = p.journal_bytes;
      }
      groups.push_back(row);
    }
    j["groups"] = groups;
    j["disks"] = v->ListDisks();
    if (*json) {
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    ctx->out() << "vault        " << v->dir() << " (id " << v->meta().id.ToHex() << ")\n"
              << "block size   " << v->block_size() << "\n"
              << "journal      " << FormatBytes(st.journal_bytes) << " in " << st.segments
              << " segments\n"
              << "catalog      " << FormatBytes(st.catalog_bytes) << ", " << st.block_versions
              << " block versions\n"
              << "last seq     " << st.last_seq << "\n"
              << "created      " << catalog::FormatRfc3339(v->meta().created_ns) << "\n"
              << "last write   " << (st.last_time_ns ? catalog::FormatRfc3339(st.last_time_ns) : "-")
              << "\n";
    for (const auto& g : groups) {
      ctx->out() << "group " << g["name"].get<std::string>() << " ("
                 << g["state"].get<std::string>() << ", writes to "
                 << g.value("active_branch", std::string("?")) << "): " << g["points"].get<size_t>()
                 << " points, oldest " << g["oldest_point"].get<std::string>() << ", retention "
                 << FormatDuration(g["retention_promised_s"].get<uint64_t>()) << "\n";
      if (g.contains("failback_pending_bytes")) {
        ctx->out() << "  failback pending: " << FormatBytes(g["failback_pending_bytes"].get<uint64_t>())
                   << " to send; the journal keeps "
                   << FormatBytes(g["failback_journal_bytes"].get<uint64_t>()) << " for it\n";
      }
    }
  });
}

}  // namespace rpfs::tools
