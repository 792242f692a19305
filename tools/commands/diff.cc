// rpfs diff VM/DISK --from P1 --to P2 [--json]: the extents whose bytes
// may differ between two points, coalesced, like VMware's changed-block
// tracking. Works across a branch and its parent; costs O(changed blocks)
// (Vault::DiffBlocks).
#include <nlohmann/json.hpp>

#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterDiff(CLI::App& app, Context* ctx) {
  struct Args {
    std::string disk, from, to;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* diff = app.add_subcommand(
      "diff", "Changed extents of a disk between two points (byte offset and length)");
  diff->add_option("VM/DISK", a->disk, "Disk")->required();
  diff->add_option("--from", a->from, "Older point (id, label, latest*, @time, #seq)")->required();
  diff->add_option("--to", a->to, "Newer point (default latest)");
  diff->add_flag("--json", a->json, "Print JSON");
  diff->callback([a, ctx] {
    std::shared_ptr<catalog::Vault> v;
    catalog::Disk d;
    Status s;
    if (!(s = ctx->OpenVault(&v)).ok() || !(s = v->FindDisk(a->disk, &d)).ok()) return ctx->Fail(s);
    catalog::View from, to;
    std::string from_what, to_what;
    if (!(s = v->ResolveView(d, a->from, &from, &from_what)).ok() ||
        !(s = v->ResolveView(d, a->to.empty() ? "latest" : a->to, &to, &to_what)).ok()) {
      return ctx->Fail(s);
    }
    // Pin "latest" so the answer describes one moment.
    const uint64_t now = v->last_seq();
    from.seq = std::min(from.seq, now);
    to.seq = std::min(to.seq, now);
    std::vector<uint64_t> blocks;
    if (!(s = v->DiffBlocks(d.id, from, to, &blocks)).ok()) return ctx->Fail(s);
    const uint64_t bs = v->block_size();
    std::vector<std::pair<uint64_t, uint64_t>> extents;  // (offset, length)
    for (uint64_t b : blocks) {
      if (!extents.empty() && extents.back().first + extents.back().second == b * bs) {
        extents.back().second += bs;
      } else {
        extents.emplace_back(b * bs, bs);
      }
    }
    const uint64_t changed = blocks.size() * bs;
    if (a->json) {
      nlohmann::json j;
      j["disk"] = d.name;
      j["from"] = {{"spec", a->from}, {"chosen", from_what}, {"branch", from.branch}, {"seq", from.seq}};
      j["to"] = {{"spec", a->to.empty() ? "latest" : a->to}, {"chosen", to_what},
                 {"branch", to.branch}, {"seq", to.seq}};
      j["block_size"] = bs;
      j["changed_bytes"] = changed;
      j["disk_bytes"] = d.size;
      j["extents"] = nlohmann::json::array();
      for (auto& [off, len] : extents) j["extents"].push_back({{"offset", off}, {"length", len}});
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    ctx->Printf("%-16s %s\n", "OFFSET", "LENGTH");
    for (auto& [off, len] : extents) {
      ctx->Printf("%-16llu %llu\n", static_cast<unsigned long long>(off),
                  static_cast<unsigned long long>(len));
    }
    ctx->Printf("%s: %zu extents, %s changed of %s, from %s to %s\n", d.name.c_str(), extents.size(),
                FormatBytes(changed).c_str(), FormatBytes(d.size).c_str(), from_what.c_str(),
                to_what.c_str());
  });
}

}  // namespace rpfs::tools
