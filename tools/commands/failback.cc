// rpfs failback GROUP --target VM/DISK=PATH ... [--point P] [--verify]
// [--max-rate R]: tools/dr/failback.h.
#include <chrono>

#include "tools/commands/commands.h"
#include "tools/dr/failback.h"

namespace rpfs::tools {

void RegisterFailback(CLI::App& app, Context* ctx) {
  struct Args {
    std::string group, point, max_rate;
    std::vector<std::string> targets;
    bool verify = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* fb = app.add_subcommand(
      "failback",
      "Make the on-premises files of a reprotected group byte-identical to its failover\n"
      "branch at a point, writing only the blocks that differ; then protect the group in the\n"
      "original direction again. Resumable: rerun after a crash or kill and it continues.");
  fb->add_option("GROUP", a->group, "Protection group")->required();
  fb->add_option("--target", a->targets,
                 "VM/DISK=PATH, once per disk of the group: the on-premises file (raw, "
                 "monolithicFlat or monolithicSparse VMDK) as the source left it")
      ->required();
  fb->add_option("--point", a->point, "Branch point to fail back to (default latest)");
  fb->add_flag("--verify", a->verify,
               "Also compare every block of both sides and repair differences (for an "
               "on-premises copy that may have changed behind rpfs's back)");
  fb->add_option("--max-rate", a->max_rate, "Write at most this many bytes per second (e.g. 50M)");
  fb->callback([a, ctx] {
    FailbackOptions o;
    o.point = a->point;
    o.verify = a->verify;
    if (!a->max_rate.empty()) {
      Status s = ParseSize(a->max_rate, &o.max_rate);
      if (!s.ok()) return ctx->Fail(Status::InvalidArgument("--max-rate: " + s.message()));
    }
    for (const std::string& t : a->targets) {
      size_t eq = t.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == t.size()) {
        return ctx->Fail(Status::InvalidArgument("--target " + t + ": expected VM/DISK=PATH"));
      }
      if (!o.targets.emplace(t.substr(0, eq), ctx->Path(t.substr(eq + 1))).second) {
        return ctx->Fail(Status::InvalidArgument("--target: disk " + t.substr(0, eq) +
                                                 " is given twice"));
      }
    }
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    Progress progress("failback " + a->group);
    o.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
    const auto t0 = std::chrono::steady_clock::now();
    FailbackResult r;
    s = RunFailback(*v, a->group, o, &r);
    if (!s.ok()) return ctx->Fail(s);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.resumed) ctx->Printf("continued failback job %llu\n", static_cast<unsigned long long>(r.job_id));
    ctx->Printf("failback of group %s to %s: %llu changed blocks; wrote %llu data bytes + %llu "
                "metadata bytes to disks of %llu bytes (%.2f%%) in %.2f s\n",
                a->group.c_str(), r.point.c_str(), static_cast<unsigned long long>(r.changed_blocks),
                static_cast<unsigned long long>(r.data_bytes),
                static_cast<unsigned long long>(r.metadata_bytes),
                static_cast<unsigned long long>(r.disk_bytes),
                r.disk_bytes ? 100.0 * static_cast<double>(r.data_bytes) / r.disk_bytes : 0.0, secs);
    if (a->verify || r.verified_bytes) {
      ctx->Printf("verified %llu bytes; repaired %llu blocks that differed\n",
                  static_cast<unsigned long long>(r.verified_bytes),
                  static_cast<unsigned long long>(r.repaired_blocks));
    }
    ctx->Printf("group %s is protected again; it writes to branch %s\n", a->group.c_str(),
                r.new_primary.c_str());
  });
}

}  // namespace rpfs::tools
