// rpfs prune [--compact-rate R] [--max-live F] [--defrag] [--json]:
// applies retention now (the mount daemon does the same in the
// background): points older than their group's window expire, and one
// compaction pass reclaims the journal space that nothing promised needs
// any more (catalog/vault_compaction.cc). --defrag then lays every disk's
// latest state out in block order where it is scattered, passes until
// done (catalog/vault_defrag.cc).
#include <nlohmann/json.hpp>

#include "catalog/time_format.h"
#include "tools/cli_support.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterPrune(CLI::App& app, Context* ctx) {
  struct Args {
    bool json = false;
    std::string rate;
    double max_live = catalog::CompactOptions().max_live_fraction;
    bool defrag = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* prune = app.add_subcommand(
      "prune",
      "Apply retention now: expire points older than their group's window, then compact: "
      "rewrite mostly-dead journal segments and delete them");
  prune->add_flag("--json", a->json, "Print JSON");
  prune->add_option("--compact-rate", a->rate,
                    "Copy live data forward at most this many bytes per second (e.g. 50M; "
                    "default: no cap)");
  prune->add_option("--max-live", a->max_live,
                    "Rewrite sealed segments whose live fraction is at most this (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  prune->add_flag("--defrag", a->defrag,
                  "Then lay each disk's latest state out again in block order wherever it lies "
                  "scattered over the journal (after random writes), at --compact-rate: faster "
                  "sequential reads and exports of it and of the points that share its blocks");
  prune->callback([a, ctx] {
    catalog::CompactOptions o;
    o.max_live_fraction = a->max_live;
    Status s;
    if (!a->rate.empty() && !(s = ParseSize(a->rate, &o.rate_bytes_per_s)).ok()) {
      return ctx->Fail(Status::InvalidArgument("--compact-rate: " + s.message()));
    }
    std::shared_ptr<catalog::Vault> v;
    if (!(s = ctx->OpenVault(&v)).ok()) return ctx->Fail(s);
    catalog::CompactReport r;
    if (!(s = v->Compact(o, &r)).ok()) return ctx->Fail(s);
    catalog::DefragReport d;  // the passes' sums; the first pass's census
    if (a->defrag) {
      catalog::DefragOptions dopt;
      dopt.rate_bytes_per_s = o.rate_bytes_per_s;
      for (bool first = true;; first = false) {
        catalog::DefragReport pass;
        if (!(s = v->Defragment(dopt, &pass)).ok()) return ctx->Fail(s);
        if (first) {
          d = pass;
        } else {
          d.rewritten_extents += pass.rewritten_extents;
          d.copied_records += pass.copied_records;
          d.copied_bytes += pass.copied_bytes;
          d.stopped = pass.stopped;
        }
        if (pass.rewritten_extents == 0 || pass.stopped.empty()) break;
      }
    }
    if (a->json) {
      nlohmann::json j = {{"expired_points", r.expired},
                          {"live_bytes", r.live_bytes},
                          {"garbage_bytes", r.garbage_bytes},
                          {"segments_rewritten", r.segments_rewritten},
                          {"copied_records", r.copied_records},
                          {"copied_bytes", r.copied_bytes},
                          {"dropped_versions", r.dropped_versions},
                          {"reclaimed_bytes", r.reclaimed_bytes},
                          {"cap_cut", r.cap_cut_ns ? catalog::FormatRfc3339(r.cap_cut_ns) : ""},
                          {"retention_shrunk", r.shrunk},
                          {"stopped", r.stopped}};
      if (a->defrag) {
        j["defrag"] = {{"extents", d.extents},
                       {"fragmented_extents", d.fragmented_extents},
                       {"rewritten_extents", d.rewritten_extents},
                       {"copied_records", d.copied_records},
                       {"copied_bytes", d.copied_bytes},
                       {"stopped", d.stopped}};
      }
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    for (const catalog::Point& p : r.expired) {
      ctx->Printf("expired point %llu (group %s, %s, %s)\n", static_cast<unsigned long long>(p.id),
                  p.group.c_str(), p.kind.c_str(), catalog::FormatRfc3339(p.time_ns).c_str());
    }
    ctx->Printf("%zu points expired; journal: %s live, %s garbage before the pass\n",
                r.expired.size(), FormatBytes(r.live_bytes).c_str(),
                FormatBytes(r.garbage_bytes).c_str());
    ctx->Printf("compaction: rewrote %u segments (copied %s in %llu records), dropped %llu index "
                "entries, reclaimed %s\n",
                r.segments_rewritten, FormatBytes(r.copied_bytes).c_str(),
                static_cast<unsigned long long>(r.copied_records),
                static_cast<unsigned long long>(r.dropped_versions),
                FormatBytes(r.reclaimed_bytes).c_str());
    if (r.cap_cut_ns > 0) {
      ctx->Printf("WARNING: the vault nears its size cap: history before %s reclaimed (%s)\n",
                  catalog::FormatRfc3339(r.cap_cut_ns).c_str(), r.shrunk.c_str());
    }
    if (!r.stopped.empty()) ctx->Printf("stopped early: %s\n", r.stopped.c_str());
    if (a->defrag) {
      ctx->Printf("defragmentation: %llu of %llu extents (1 MiB) with data were scattered; laid "
                  "out %llu in block order (copied %s in %llu records)\n",
                  static_cast<unsigned long long>(d.fragmented_extents),
                  static_cast<unsigned long long>(d.extents),
                  static_cast<unsigned long long>(d.rewritten_extents),
                  FormatBytes(d.copied_bytes).c_str(),
                  static_cast<unsigned long long>(d.copied_records));
      if (!d.stopped.empty()) ctx->Printf("defragmentation stopped early: %s\n", d.stopped.c_str());
    }
  });
}

}  // namespace rpfs::tools
