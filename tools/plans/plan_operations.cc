#include "tools/plans/plan_operations.h"

#include <unistd.h>

#include <set>

#include "tools/dr/failback.h"
#include "tools/plans/plan_file.h"

namespace rpfs::tools {
namespace {

std::vector<std::string> PlanGroups(const catalog::Plan& plan) {
  std::vector<std::string> groups;
  for (const catalog::PlanStep& s : plan.steps) groups.insert(groups.end(), s.groups.begin(), s.groups.end());
  return groups;
}

// latest and latest-crash: one seq for every group, so that no group shows
// a write newer than one missing from another (every seq is a
// crash-consistent state of every group: DESIGN.md §4).
Status CommonSeq(catalog::Vault& vault, const catalog::Plan& plan, const std::string& spec,
                 uint64_t* seq, std::string* description) {
  if (spec == "latest") {
    *seq = vault.last_seq();
    *description = "latest, seq " + std::to_string(*seq) + " for every group of the plan";
    return Status::OK();
  }
  // latest-crash: the newest crash-consistent point of any of the plan's
  // groups; the other groups are taken at its seq.
  const catalog::Point* best = nullptr;
  std::vector<catalog::Point> all;
  for (const std::string& g : PlanGroups(plan)) {
    for (const catalog::Point& p : vault.ListPoints(g)) all.push_back(p);
  }
  for (const catalog::Point& p : all) {
    if (p.kind == "crash" && (best == nullptr || p.seq > best->seq)) best = &p;
  }
  if (best == nullptr) {
    return Status::NotFound("plan " + plan.name + ": none of its groups has a crash-consistent point");
  }
  *seq = best->seq;
  *description = "latest-crash: point " + std::to_string(best->id) + " of group " + best->group +
                 ", seq " + std::to_string(*seq) + " for every group of the plan";
  return Status::OK();
}

Status FailoverGroups(catalog::Vault& vault, const catalog::Plan& plan,
                      const PlanRunOptions& options, uint64_t job_id, catalog::PlanRun* run) {
  const bool test = options.operation == "test-failover";
  run->point_spec = options.point.empty() ? "latest" : options.point;
  run->name = options.name.empty() ? plan.name + (test ? "-test-" : "-failover-") + std::to_string(job_id)
                                   : options.name;
  run->fence_source = options.fence_source;
  std::string common;
  const bool shared = run->point_spec == "latest" || run->point_spec == "latest-crash";
  if (shared) RPFS_RETURN_IF_ERROR(CommonSeq(vault, plan, run->point_spec, &run->common_seq, &common));
  for (const std::string& g : PlanGroups(plan)) {
    catalog::PlanGroupRun& r = run->groups[g];
    r.branch = run->name + "-" + g;
    Status s = CheckPlanName(r.branch);
    if (!s.ok()) return Status::InvalidArgument("--name " + run->name + ": branch " + r.branch + ": " + s.message());
    catalog::Branch existing;
    if (vault.FindBranch(r.branch, &existing).ok()) {
      return Status::InvalidArgument("plan " + plan.name + ": branch " + r.branch +
                                     " exists already (choose another --name)");
    }
    catalog::View view;
    std::string what;
    // The common seq as a "#SEQ" spec, in two appends: GCC 12 at -O3 misreads "#" + string
    // (-Wrestrict).
    std::string seq_spec = "#";
    seq_spec += std::to_string(run->common_seq);
    s = vault.ResolveGroupView(g, shared ? seq_spec : run->point_spec, &view, &what);
    if (!s.ok()) return Status::InvalidArgument("plan " + plan.name + ": group " + g + ": " + s.message());
    r.view_branch = view.branch;
    r.seq = std::min(view.seq, vault.last_seq());
    r.point = shared ? common : what;
  }
  return Status::OK();
}

}  // namespace

Status PrepareGroupRuns(catalog::Vault& vault, const catalog::Plan& plan,
                        const PlanRunOptions& options, uint64_t job_id, catalog::PlanRun* run) {
  const std::string& op = options.operation;
  run->operation = op;
  run->groups.clear();
  if (op == "test-failover" || op == "failover") return FailoverGroups(vault, plan, options, job_id, run);
  if (op == "cleanup") {
    // The branches of the test failover before this run.
    for (const std::string& g : PlanGroups(plan)) {
      catalog::PlanGroupRun& r = run->groups[g];
      auto prev = plan.run.groups.find(g);
      if (prev != plan.run.groups.end()) r.branch = prev->second.branch;
      catalog::Branch b;
      r.done = r.branch.empty() || !vault.FindBranch(r.branch, &b).ok();
    }
    return Status::OK();
  }
  // reprotect and failback act on each group's active (failover) branch.
  for (const std::string& g : PlanGroups(plan)) {
    catalog::Group row;
    RPFS_RETURN_IF_ERROR(vault.GetGroup(g, &row));
    catalog::Branch b;
    RPFS_RETURN_IF_ERROR(vault.GetBranch(row.active_branch, &b));
    run->groups[g].branch = b.name;
  }
  if (op != "failback") return Status::OK();
  std::set<std::string> plan_disks;
  std::set<std::string> groups;
  for (const std::string& g : PlanGroups(plan)) groups.insert(g);
  for (const catalog::Disk& d : vault.ListDisks()) {
    if (!groups.count(d.group)) continue;
    plan_disks.insert(d.name);
    if (!options.targets.count(d.name)) {
      return Status::InvalidArgument("plan " + plan.name + ": disk " + d.name + " of group " + d.group +
                                     " has no --target " + d.name + "=PATH");
    }
  }
  for (const auto& [disk, path] : options.targets) {
    if (!plan_disks.count(disk)) {
      return Status::InvalidArgument("--target " + disk + "=" + path + ": " + disk +
                                     " is not a disk of plan " + plan.name);
    }
    if (::access(path.c_str(), R_OK | W_OK) != 0) {
      return Status::InvalidArgument("--target " + disk + "=" + path +
                                     ": cannot open the file for reading and writing");
    }
  }
  run->targets = options.targets;
  run->verify = options.verify;
  return Status::OK();
}

Status RunGroupOperation(catalog::Vault& vault, const catalog::PlanRun& run,
                         const std::string& group, catalog::PlanGroupRun* record,
                         std::string* said) {
  const std::string& op = run.operation;
  catalog::Branch b;
  if (op == "test-failover" || op == "failover") {
    const bool test = op == "test-failover";
    if (vault.FindBranch(record->branch, &b).ok() && b.group == group) {
      *said = group + ": branch " + b.name + " at seq " + std::to_string(b.fork_seq) +
              " was made before the run was cut off";
      return Status::OK();
    }
    RPFS_RETURN_IF_ERROR(vault.Failover(group, catalog::View{record->view_branch, record->seq},
                                        record->branch, test, &b));
    *said = group + ": " + (test ? "test failover" : "failover") + " to branch " + b.name +
            " at seq " + std::to_string(b.fork_seq) + " (" + record->point + ")" +
            (!test && run.fence_source ? ", source fenced" : "");
    return Status::OK();
  }
  if (op == "cleanup") {
    if (!vault.FindBranch(record->branch, &b).ok()) {
      *said = group + ": branch " + record->branch + " is gone already";
      return Status::OK();
    }
    RPFS_RETURN_IF_ERROR(vault.CleanupBranch(record->branch, &b));
    *said = group + ": removed test branch " + b.name;
    return Status::OK();
  }
  catalog::Group row;
  RPFS_RETURN_IF_ERROR(vault.GetGroup(group, &row));
  if (op == "reprotect") {
    if (row.state == "reprotected") {
      *said = group + ": reprotected already";
      return Status::OK();
    }
    RPFS_RETURN_IF_ERROR(vault.Reprotect(group));
    *said = group + ": reprotected; branch " + record->branch + " is the protected source";
    return Status::OK();
  }
  if (op == "failback") {
    if (row.state == "protected") {  // finished before the run was cut off
      *said = group + ": failed back already";
      return Status::OK();
    }
    FailbackOptions o;
    for (const auto& [disk, path] : run.targets) {
      catalog::Disk d;
      if (vault.FindDisk(disk, &d).ok() && d.group == group) o.targets[disk] = path;
    }
    o.verify = run.verify;
    FailbackResult r;
    RPFS_RETURN_IF_ERROR(RunFailback(vault, group, o, &r));
    *said = group + ": failback job " + std::to_string(r.job_id) + " wrote " +
            std::to_string(r.changed_blocks) + " changed blocks (" + std::to_string(r.data_bytes) +
            " bytes); now writes to branch " + r.new_primary;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown plan operation '" + op + "'");
}

std::string ScriptDisks(const catalog::Vault& vault, const catalog::PlanRun& run,
                        const std::vector<std::string>& groups, const std::string& phase,
                        const std::string& mountpoint) {
  std::string lines;
  const std::string root = mountpoint.empty() ? "" : mountpoint + "/";
  for (const std::string& g : groups) {
    auto r = run.groups.find(g);
    for (const catalog::Disk& d : vault.ListDisks()) {
      if (d.group != g) continue;
      std::string path;
      if (run.operation == "failback" && phase == "post" && run.targets.count(d.name)) {
        path = run.targets.at(d.name);
      } else if ((run.operation == "failover" || run.operation == "test-failover") && phase == "pre") {
        path = root + "disks/" + d.name + ".vmdk";
      } else if (r != run.groups.end()) {
        path = root + "branches/" + r->second.branch + "/" + d.name + ".vmdk";
      }
      lines += d.name + "=" + path + "\n";
    }
  }
  return lines;
}

}  // namespace rpfs::tools
