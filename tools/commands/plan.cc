// rpfs plan create|list|show|delete and the plan runs: failover [--test],
// cleanup, reprotect, failback, resume, cancel (tools/plans/plan_runner.h).
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "catalog/plan_store.h"
#include "catalog/time_format.h"
#include "tools/commands/commands.h"
#include "tools/plans/plan_file.h"
#include "tools/plans/plan_runner.h"
#include "tools/plans/plan_state.h"

namespace rpfs::tools {
namespace {

PlanHost HostFor(Context* ctx) {
  PlanHost host;
  host.vault_dir = RealPath(ctx->VaultDir());
  host.mountpoint = ctx->mountpoint;
  host.cwd = ctx->cwd;
  host.cancelled = ctx->cancelled;
  if (!host.cancelled) {
    CatchStopSignals();  // Ctrl-C stops the script and leaves the run resumable
    host.cancelled = StopRequested;
  }
  host.print = [ctx](const std::string& text) { ctx->out() << text << std::flush; };
  return host;
}

std::string When(uint64_t ns) { return ns ? catalog::FormatRfc3339(ns) : std::string("-"); }

std::string Quoted(const std::vector<std::string>& cmds) {
  std::string out;
  for (const std::string& c : cmds) out += (out.empty() ? "`" : ", `") + c + "`";
  return out;
}

std::string GroupsOf(const catalog::Plan& plan) {
  std::string out;
  for (const catalog::PlanStep& s : plan.steps) {
    for (const std::string& g : s.groups) out += (out.empty() ? "" : ",") + g;
  }
  return out;
}

// The last lines of a script's output, indented.
std::string Tail(const std::string& output, size_t lines) {
  size_t at = output.size();
  for (size_t n = 0; at > 0 && n <= lines; ) {
    --at;
    if (output[at] == '\n' && at + 1 < output.size()) ++n;
    if (n > lines) {
      ++at;
      break;
    }
  }
  std::string out;
  std::istringstream in(output.substr(at));
  for (std::string line; std::getline(in, line);) out += "    | " + line + "\n";
  return out;
}

void PrintPlan(Context* ctx, const catalog::Plan& plan) {
  ctx->Printf("plan %s (from %s), created %s\n", plan.name.c_str(), plan.file.c_str(),
              When(plan.created_ns).c_str());
  ctx->Printf("state: %s\n", PlanDisplayState(plan).c_str());
  ctx->Printf("steps:\n");
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const catalog::PlanStep& s = plan.steps[i];
    std::string line = "  " + std::to_string(i + 1) + ". groups";
    for (const std::string& g : s.groups) line += " " + g;
    if (!s.manual.empty()) line += "; manual: " + s.manual;
    if (!s.pre.empty()) line += "; pre: " + Quoted(s.pre);
    if (!s.post.empty()) line += "; post: " + Quoted(s.post);
    if (s.timeout_s) line += "; timeout " + FormatDuration(s.timeout_s);
    ctx->out() << line << "\n";
  }
  const catalog::PlanRun& r = plan.run;
  if (r.status.empty()) {
    ctx->Printf("never run\n");
  } else {
    ctx->Printf("last run: %s, %s, job %llu, started %s, ended %s\n", r.operation.c_str(),
                r.status.c_str(), static_cast<unsigned long long>(r.job_id), When(r.start_ns).c_str(),
                When(r.end_ns).c_str());
    for (const catalog::PlanStep& s : plan.steps) {
      for (const std::string& g : s.groups) {
        auto it = r.groups.find(g);
        if (it == r.groups.end()) continue;
        const catalog::PlanGroupRun& gr = it->second;
        std::string line = "  group " + g + ": branch " + gr.branch;
        if (!gr.point.empty()) line += ", seq " + std::to_string(gr.seq) + " (" + gr.point + ")";
        line += gr.skipped ? ", skipped" : gr.done ? ", done" : ", not done";
        ctx->out() << line << "\n";
      }
    }
    for (size_t i = 0; i < r.step_lines.size(); ++i) {
      ctx->Printf("  step %zu: %s\n", i + 1, r.step_lines[i].c_str());
    }
    if (r.status == "failed" && !r.script_output.empty()) {
      ctx->Printf("  failed script: exit %d; its last output:\n%s", r.script_exit,
                  Tail(r.script_output, 20).c_str());
    }
  }
  ctx->Printf("history:\n");
  for (const catalog::PlanStateChange& h : plan.history) {
    ctx->Printf("  %s  %s (job %llu)\n", When(h.time_ns).c_str(), h.state.c_str(),
                static_cast<unsigned long long>(h.job_id));
  }
}

nlohmann::json PlanJson(const catalog::Plan& plan) {
  nlohmann::json j = plan;
  j["display_state"] = PlanDisplayState(plan);
  return j;
}

void RegisterCrud(CLI::App* plan, Context* ctx) {
  struct Args {
    std::string name, file;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* create = plan->add_subcommand("create", "Store a recovery plan from a JSON file");
  create->add_option("NAME", a->name, "Plan name")->required();
  create->add_option("--file", a->file,
                     "{\"steps\": [{\"groups\": [G...], \"pre\": [CMD...], \"post\": [CMD...], "
                     "\"manual\": TEXT, \"timeout\": \"10m\"}, ...]}")
      ->required();
  create->callback([a, ctx] {
    Status s = CheckPlanName(a->name);
    if (!s.ok()) return ctx->Fail(s);
    const std::string path = ctx->Path(a->file);
    std::ifstream in(path, std::ios::binary);
    if (!in) return ctx->Fail(Status::InvalidArgument("plan file " + a->file + ": cannot read it"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::shared_ptr<catalog::Vault> v;
    s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    std::set<std::string> groups;
    for (const catalog::Group& g : v->ListGroups()) groups.insert(g.name);
    catalog::Plan p;
    s = ParsePlanFile(a->file, text, groups, &p.steps);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Plan existing;
    if (catalog::PlanStore(*v).Get(a->name, &existing).ok()) {
      return ctx->Fail(Status::InvalidArgument("plan " + a->name + " exists (plan delete it first)"));
    }
    p.name = a->name;
    p.file = RealPath(path);
    p.state = StateOfGroups(*v, p.steps);
    if (p.state.rfind("mixed", 0) == 0) {
      return ctx->Fail(Status::InvalidArgument("plan file " + a->file +
                                               ": its groups are in conflicting states: " + p.state));
    }
    s = CheckOtherPlans(*v, p);
    if (!s.ok()) return ctx->Fail(Status::InvalidArgument("plan file " + a->file + ": " + s.message()));
    p.created_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    p.history.push_back({p.state, p.created_ns, 0});
    s = catalog::PlanStore(*v).Put(p, nullptr);
    if (!s.ok()) return ctx->Fail(s);
    ctx->Printf("created plan %s: %zu steps, groups %s; %s\n", p.name.c_str(), p.steps.size(),
                GroupsOf(p).c_str(), p.state.c_str());
  });

  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = plan->add_subcommand("list", "Recovery plans and their states");
  list->add_flag("--json", *list_json, "Print JSON");
  list->callback([list_json, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    auto plans = catalog::PlanStore(*v).List();
    if (*list_json) {
      nlohmann::json j = nlohmann::json::array();
      for (const catalog::Plan& p : plans) {
        j.push_back({{"name", p.name},
                     {"state", PlanDisplayState(p)},
                     {"steps", p.steps.size()},
                     {"groups", GroupsOf(p)},
                     {"last_run", {{"operation", p.run.operation},
                                   {"status", p.run.status},
                                   {"job", p.run.job_id}}}});
      }
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    ctx->Printf("%-16s %-6s %-24s %-30s %s\n", "NAME", "STEPS", "GROUPS", "LAST RUN", "STATE");
    for (const catalog::Plan& p : plans) {
      std::string last = p.run.status.empty()
                             ? "-"
                             : p.run.operation + " " + p.run.status + " (job " +
                                   std::to_string(p.run.job_id) + ")";
      ctx->Printf("%-16s %-6zu %-24s %-30s %s\n", p.name.c_str(), p.steps.size(), GroupsOf(p).c_str(),
                  last.c_str(), PlanDisplayState(p).c_str());
    }
  });

  auto show = std::make_shared<Args>();
  CLI::App* sh = plan->add_subcommand("show", "A plan: steps, groups, state, last run, history");
  sh->add_option("NAME", show->name, "Plan name")->required();
  sh->add_flag("--json", show->json, "Print JSON");
  sh->callback([show, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Plan p;
    s = catalog::PlanStore(*v).Get(show->name, &p);
    if (!s.ok()) return ctx->Fail(Status::InvalidArgument("unknown plan '" + show->name + "'"));
    if (show->json) {
      ctx->out() << PlanJson(p).dump(2) << "\n";
    } else {
      PrintPlan(ctx, p);
    }
  });

  auto del = std::make_shared<std::string>();
  CLI::App* d = plan->add_subcommand("delete", "Remove a plan (its groups and branches stay)");
  d->add_option("NAME", *del, "Plan name")->required();
  d->callback([del, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    catalog::Plan p;
    s = catalog::PlanStore(*v).Get(*del, &p);
    if (!s.ok()) return ctx->Fail(Status::InvalidArgument("unknown plan '" + *del + "'"));
    if (RunUnfinished(p.run)) {
      return ctx->Fail(Status::InvalidArgument("plan " + *del + " is " + PlanDisplayState(p) +
                                               ": plan resume or plan cancel it first"));
    }
    s = catalog::PlanStore(*v).Delete(*del);
    if (!s.ok()) return ctx->Fail(s);
    ctx->Printf("deleted plan %s (it was %s)\n", del->c_str(), p.state.c_str());
  });
}

void Report(Context* ctx, const std::string& name, const Status& s, const PlanOutcome& o) {
  if (!s.ok()) return ctx->Fail(s);
  ctx->Printf("plan %s: %s (job %llu)\n", name.c_str(), o.state.c_str(),
              static_cast<unsigned long long>(o.job_id));
}

void RegisterRuns(CLI::App* plan, Context* ctx) {
  struct Args {
    std::string name, point, branch_name;
    bool test = false, fence = false, skip = false, verify = false;
    std::vector<std::string> targets;
  };
  auto a = std::make_shared<Args>();
  auto run = [ctx](const std::string& name, const PlanRunOptions& o) {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    PlanOutcome out;
    s = StartPlanRun(*v, name, o, HostFor(ctx), &out);
    Report(ctx, name, s, out);
  };

  CLI::App* fo = plan->add_subcommand(
      "failover",
      "Fail every group of the plan over, step by step: manual action, pre scripts, the\n"
      "groups' failover (O(1) branches NAME-GROUP), post scripts. latest and latest-crash\n"
      "put every group at one common journal sequence.");
  fo->add_option("NAME", a->name, "Plan name")->required();
  fo->add_flag("--test", a->test, "Test failover: disposable branches; plan cleanup removes them");
  fo->add_option("--point", a->point,
                 "latest (default), latest-crash, latest-app (each group's own), an id or label, "
                 "@RFC3339 or #seq");
  fo->add_flag("--fence-source", a->fence, "Record that the source was shut down (failover only)");
  fo->add_option("--name", a->branch_name,
                 "Branch name prefix (default PLAN-test-JOB / PLAN-failover-JOB)");
  fo->callback([a, run, ctx] {
    if (a->test && a->fence) {
      return ctx->Fail(Status::InvalidArgument("--fence-source applies to a failover, not --test"));
    }
    PlanRunOptions o;
    o.operation = a->test ? "test-failover" : "failover";
    o.point = a->point;
    o.fence_source = a->fence;
    o.name = a->branch_name;
    run(a->name, o);
  });

  auto simple = [&](const char* op, const char* help) {
    auto name = std::make_shared<std::string>();
    CLI::App* c = plan->add_subcommand(op, help);
    c->add_option("NAME", *name, "Plan name")->required();
    std::string operation = op;
    c->callback([name, operation, run] {
      PlanRunOptions o;
      o.operation = operation;
      run(*name, o);
    });
  };
  simple("cleanup", "Remove the test branches of the plan's test failover (no scripts run)");
  simple("reprotect", "Reprotect every group of a failed-over plan, step by step with its scripts");

  CLI::App* fb = plan->add_subcommand(
      "failback",
      "Fail every group of a reprotected plan back to its on-premises files, step by step,\n"
      "writing only the blocks that differ; the groups are protected again");
  fb->add_option("NAME", a->name, "Plan name")->required();
  fb->add_option("--target", a->targets, "VM/DISK=PATH, once for every disk of the plan")->required();
  fb->add_flag("--verify", a->verify, "Also compare every block and repair differences");
  fb->callback([a, run, ctx] {
    PlanRunOptions o;
    o.operation = "failback";
    o.verify = a->verify;
    for (const std::string& t : a->targets) {
      size_t eq = t.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == t.size()) {
        return ctx->Fail(Status::InvalidArgument("--target " + t + ": expected VM/DISK=PATH"));
      }
      if (!o.targets.emplace(t.substr(0, eq), RealPath(ctx->Path(t.substr(eq + 1)))).second) {
        return ctx->Fail(Status::InvalidArgument("--target: disk " + t.substr(0, eq) + " is given twice"));
      }
    }
    run(a->name, o);
  });

  auto resume = std::make_shared<Args>();
  CLI::App* rs = plan->add_subcommand(
      "resume", "Continue a failed, waiting (manual action done) or interrupted plan run");
  rs->add_option("NAME", resume->name, "Plan name")->required();
  rs->add_flag("--skip-failed", resume->skip, "Pass over the script or group that failed");
  rs->callback([resume, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    PlanOutcome out;
    s = ResumePlanRun(*v, resume->name, resume->skip, HostFor(ctx), &out);
    Report(ctx, resume->name, s, out);
  });

  auto cancel = std::make_shared<std::string>();
  CLI::App* cn = plan->add_subcommand(
      "cancel", "End an unfinished plan run where it stands (what it did stays done)");
  cn->add_option("NAME", *cancel, "Plan name")->required();
  cn->callback([cancel, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    PlanOutcome out;
    s = CancelPlanRun(*v, *cancel, &out);
    Report(ctx, *cancel, s, out);
  });
}

}  // namespace

void RegisterPlan(CLI::App& app, Context* ctx) {
  CLI::App* plan = app.add_subcommand(
      "plan",
      "Recovery plans: ordered steps of groups with scripts and manual actions; failover,\n"
      "test failover, reprotect and failback of a whole application as one job");
  plan->require_subcommand(1);
  RegisterCrud(plan, ctx);
  RegisterRuns(plan, ctx);
}

}  // namespace rpfs::tools
