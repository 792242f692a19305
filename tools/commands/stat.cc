// rpfs stat [--json]: what the vault holds and how big it is.
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "catalog/time_format.h"
#include "tools/commands/commands.h"
#include "tools/dr/failback_plan.h"
#include "tools/replication/replication_status.h"

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
    const catalog::VaultMeta& meta = v->meta();
    const uint64_t now = v->Now();
    nlohmann::json j = {
        {"vault", v->dir()},
        {"id", v->meta().id.ToHex()},
        {"block_size", v->block_size()},
        {"vault_bytes", st.journal_bytes + st.catalog_bytes},
        {"max_size", meta.max_size},
        {"live_bytes", meta.live_bytes},
        {"garbage_bytes", meta.garbage_bytes},
        {"reclaimed_bytes", meta.reclaimed_bytes},
        {"last_compaction", meta.compacted_ns ? catalog::FormatRfc3339(meta.compacted_ns) : ""},
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
      // Retention: what is kept against what is promised, the change rate
      // over the window, and the drive that rate needs.
      const uint64_t promised_ns = g.retention_s * 1000000000ull;
      const uint64_t oldest = std::max({g.horizon_ns, g.created_ns, meta.created_ns});
      const uint64_t covered_ns = now > oldest ? now - oldest : 0;
      const uint64_t window_from = now > promised_ns ? std::max(now - promised_ns, oldest) : oldest;
      uint64_t since_seq = 0, changed = 0;
      if (window_from > meta.created_ns && !(s = v->SeqAtTime(window_from, &since_seq)).ok()) {
        return ctx->Fail(s);
      }
      if (!(s = v->ChangedBytes(g.name, since_seq, &changed)).ok()) return ctx->Fail(s);
      const uint64_t span_s = std::max<uint64_t>(1, (now - std::min(now, window_from)) / 1000000000ull);
      const uint64_t rate = changed / span_s;  // bytes per second
      row["oldest_reachable"] = catalog::FormatRfc3339(oldest);
      row["retention_covered_s"] = std::min(covered_ns, promised_ns) / 1000000000ull;
      row["retention_shrunk"] = g.horizon_ns > 0 && now > promised_ns && g.horizon_ns > now - promised_ns + 1000000000ull;
      row["change_rate_bytes_per_s"] = rate;
      row["changed_bytes_in_window"] = changed;
      row["latest_bytes"] = g.latest_bytes;
      row["needed_bytes"] = g.latest_bytes + rate * g.retention_s;
      if (g.state == "failed-over" || g.state == "reprotected") {
        // What failback would send now, and the journal it needs kept.
        FailbackPending p;
        if (!(s = MeasureFailbackPending(*v, g.name, &p)).ok()) return ctx->Fail(s);
        row["failback_pending_bytes"] = p.bytes;
        row["failback_pending_blocks"] = p.blocks;
        row["failback_journal_bytes"] = p.journal_bytes;
        row["needed_bytes"] = row["needed_bytes"].get<uint64_t>() + p.bytes;
      }
      nlohmann::json repl;
      if (!(s = ReplicationStatusJson(*v, g, &repl)).ok()) return ctx->Fail(s);
      if (!repl.is_null()) row["replication"] = repl;
      groups.push_back(row);
    }
    j["groups"] = groups;
    j["disks"] = v->ListDisks();
    if (*json) {
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    ctx->out() << "vault        " << v->dir() << " (id " << v->meta().id.ToHex() << ")\n"
              << "size         " << FormatBytes(st.journal_bytes + st.catalog_bytes)
              << (meta.max_size ? " of a " + FormatBytes(meta.max_size) + " cap" : std::string())
              << "\n"
              << "live         " << FormatBytes(meta.live_bytes) << ", garbage "
              << FormatBytes(meta.garbage_bytes) << " (at the last compaction, "
              << (meta.compacted_ns ? catalog::FormatRfc3339(meta.compacted_ns) : std::string("never"))
              << "); reclaimed so far " << FormatBytes(meta.reclaimed_bytes) << "\n"
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
                 << FormatDuration(g["retention_promised_s"].get<uint64_t>()) << "\n"
                 << "  retention: kept since " << g["oldest_reachable"].get<std::string>() << " ("
                 << FormatDuration(g["retention_covered_s"].get<uint64_t>()) << " of "
                 << FormatDuration(g["retention_promised_s"].get<uint64_t>()) << "); changes "
                 << FormatBytes(g["change_rate_bytes_per_s"].get<uint64_t>()) << "/s; drive needed "
                 << FormatBytes(g["needed_bytes"].get<uint64_t>()) << "\n";
      if (g["retention_shrunk"].get<bool>()) {
        ctx->out() << "  WARNING: the size cap shrank this group's retention (history before "
                   << g["oldest_reachable"].get<std::string>() << " was reclaimed)\n";
      }
      if (g.contains("replication")) ctx->out() << "  " << ReplicationStatusLine(g["replication"]) << "\n";
      if (g.contains("failback_pending_bytes")) {
        ctx->out() << "  failback pending: " << FormatBytes(g["failback_pending_bytes"].get<uint64_t>())
                   << " to send; the journal keeps "
                   << FormatBytes(g["failback_journal_bytes"].get<uint64_t>()) << " for it\n";
      }
    }
  });
}

}  // namespace rpfs::tools
