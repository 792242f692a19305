// rpfs failover GROUP --point P [--test] [--fence-source] [--name N],
// rpfs failover cleanup N, rpfs reprotect GROUP: the group's direction
// states (catalog/vault_failover.cc). Each is a job; each is O(1) in disk
// size except reprotect's report of what failback will send.
#include <chrono>

#include "catalog/job_log.h"
#include "catalog/time_format.h"
#include "tools/commands/commands.h"
#include "tools/dr/failback_plan.h"

namespace rpfs::tools {
namespace {

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Runs fn as a job of `kind` for `group`: the row says running, then
// succeeded or failed with fn's status.
Status AsJob(catalog::Vault& v, const std::string& kind, const std::string& group,
             const std::function<Status(catalog::Job*)>& fn) {
  catalog::Job job;
  job.kind = kind;
  job.group = group;
  RPFS_RETURN_IF_ERROR(catalog::JobLog(v).Start(&job));
  Status s = fn(&job);
  Status f = catalog::JobLog(v).Finish(&job, s);
  return s.ok() ? f : s;
}

}  // namespace

void RegisterFailover(CLI::App& app, Context* ctx) {
  struct Args {
    std::string group, point, name;
    bool test = false, fence = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* fo = app.add_subcommand(
      "failover",
      "Fail a group over to a point: writable O(1) clones of its disks under branches/NAME/.\n"
      "--test: a disposable test branch; replication into the live disks goes on.\n"
      "Without --test the clones become the group's active copy (disks/ shows them) and\n"
      "the old timeline is closed to writes (EROFS), readable through its points.");
  fo->add_option("GROUP", a->group, "Protection group");
  fo->add_option("--point", a->point,
                 "Point: id, label, latest, latest-app, latest-crash, @RFC3339 or #seq");
  fo->add_flag("--test", a->test, "Test failover: a disposable clone, nothing else changes");
  fo->add_flag("--fence-source", a->fence,
               "Record that the source was shut down (the old timeline is always closed "
               "at failover, so its copies cannot diverge)");
  fo->add_option("--name", a->name, "Branch name (default GROUP-test-N / GROUP-failover-N)");
  fo->callback([a, ctx, fo] {
    if (fo->get_subcommands().size() > 0) return;  // failover cleanup
    if (a->group.empty()) return ctx->Fail(Status::InvalidArgument("failover needs a GROUP"));
    if (a->point.empty()) {
      return ctx->Fail(Status::InvalidArgument(
          "failover needs --point (latest, latest-app, latest-crash, an id, @time or #seq)"));
    }
    if (a->test && a->fence) {
      return ctx->Fail(Status::InvalidArgument("--fence-source applies to a failover, not --test"));
    }
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Branch b;
    std::string what;
    uint64_t took_ns = 0;
    s = AsJob(*v, a->test ? "test-failover" : "failover", a->group, [&](catalog::Job* job) {
      bool has_disk = false;
      for (const catalog::Disk& d : v->ListDisks()) has_disk = has_disk || d.group == a->group;
      catalog::View from;
      RPFS_RETURN_IF_ERROR(v->ResolveGroupView(a->group, a->point, &from, &what));
      if (!has_disk) return Status::InvalidArgument("group " + a->group + " has no disks");
      const uint64_t t0 = NowNs();
      RPFS_RETURN_IF_ERROR(v->Failover(a->group, from, a->name, a->test, &b));
      took_ns = NowNs() - t0;
      job->details = "branch " + b.name + " at " + what + ", seq " + std::to_string(b.fork_seq) +
                     (a->fence ? ", source fenced" : "");
      return Status::OK();
    });
    if (!s.ok()) return ctx->Fail(s);
    ctx->Printf("%s of group %s to %s: branch %s at seq %llu in %.3f ms\n",
                a->test ? "test failover" : "failover", a->group.c_str(), what.c_str(),
                b.name.c_str(), static_cast<unsigned long long>(b.fork_seq), took_ns / 1e6);
    for (const catalog::Disk& d : v->ListDisks()) {
      if (d.group == a->group) ctx->Printf("  branches/%s/%s.vmdk\n", b.name.c_str(), d.name.c_str());
    }
    if (!a->test) {
      ctx->Printf("group %s is failed-over: disks/ shows branch %s; run 'rpfs reprotect %s' when "
                  "the source site is back\n",
                  a->group.c_str(), b.name.c_str(), a->group.c_str());
    }
  });

  auto cleanup_name = std::make_shared<std::string>();
  CLI::App* cleanup = fo->add_subcommand(
      "cleanup", "Remove a test failover branch; its journal data becomes reclaimable");
  cleanup->add_option("NAME", *cleanup_name, "Test branch name")->required();
  cleanup->callback([cleanup_name, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Branch b;
    std::string group;
    if (v->FindBranch(*cleanup_name, &b).ok()) group = b.group;
    s = AsJob(*v, "cleanup", group, [&](catalog::Job* job) {
      RPFS_RETURN_IF_ERROR(v->CleanupBranch(*cleanup_name, &b));
      job->details = "removed test branch " + b.name;
      return Status::OK();
    });
    if (!s.ok()) return ctx->Fail(s);
    ctx->Printf("removed test branch %s of group %s\n", b.name.c_str(), b.group.c_str());
  });

  auto rp_group = std::make_shared<std::string>();
  CLI::App* rp = app.add_subcommand(
      "reprotect",
      "Reverse the direction of a failed-over group: the failover branch is the protected\n"
      "source, and rpfs tracks what failback will send to the on-premises copy");
  rp->add_option("GROUP", *rp_group, "Protection group")->required();
  rp->callback([rp_group, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    FailbackPending pending;
    s = AsJob(*v, "reprotect", *rp_group, [&](catalog::Job* job) {
      RPFS_RETURN_IF_ERROR(v->Reprotect(*rp_group));
      RPFS_RETURN_IF_ERROR(MeasureFailbackPending(*v, *rp_group, &pending));
      job->details = "failback pending: " + std::to_string(pending.bytes) + " bytes";
      return Status::OK();
    });
    if (!s.ok()) return ctx->Fail(s);
    ctx->Printf("group %s is reprotected: failback will send %s (%llu blocks) of %s; the "
                "journal keeps %s for it\n",
                rp_group->c_str(), FormatBytes(pending.bytes).c_str(),
                static_cast<unsigned long long>(pending.blocks),
                FormatBytes(pending.disk_bytes).c_str(), FormatBytes(pending.journal_bytes).c_str());
  });
}

}  // namespace rpfs::tools
