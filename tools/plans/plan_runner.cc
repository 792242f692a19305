#include "tools/plans/plan_runner.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "catalog/job_log.h"
#include "catalog/plan_store.h"
#include "catalog/time_format.h"
#include "tools/plans/plan_operations.h"
#include "tools/plans/plan_state.h"
#include "tools/plans/script_runner.h"
#include "tools/units.h"

namespace rpfs::tools {
namespace {

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The runs live in this process, by plan name, each with its cancel flag.
// (The vault lock makes one process the only runner of a vault.)
std::mutex live_mu;
std::map<std::string, std::shared_ptr<std::atomic<bool>>> live_runs;

bool IsLive(const std::string& plan) {
  std::lock_guard<std::mutex> l(live_mu);
  return live_runs.count(plan) > 0;
}

class LiveRun {
 public:
  explicit LiveRun(std::string plan) : plan_(std::move(plan)) {}
  ~LiveRun() {
    if (!registered_) return;
    std::lock_guard<std::mutex> l(live_mu);
    live_runs.erase(plan_);
  }
  Status Register() {
    std::lock_guard<std::mutex> l(live_mu);
    if (live_runs.count(plan_)) {
      return Status::InvalidArgument("plan " + plan_ + " is running now; `plan cancel " + plan_ +
                                     "` stops it");
    }
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    live_runs[plan_] = cancel_;
    registered_ = true;
    return Status::OK();
  }
  bool CancelRequested() const { return cancel_ && cancel_->load(); }

 private:
  std::string plan_;
  bool registered_ = false;
  std::shared_ptr<std::atomic<bool>> cancel_;
};

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The state a cancelled run leaves (plan_state.h).
std::string CancelledState(const catalog::Vault& vault, const catalog::Plan& plan) {
  const std::string& op = plan.run.operation;
  if (op == "test-failover" || op == "cleanup") {
    for (const auto& [g, r] : plan.run.groups) {
      catalog::Branch b;
      if (!r.branch.empty() && vault.FindBranch(r.branch, &b).ok()) return kPlanTestCancelled;
    }
    return op == "cleanup" ? std::string(kPlanProtected) : plan.state;
  }
  return StateOfGroups(vault, plan.steps);
}

void SetState(catalog::Plan* plan, const std::string& state, uint64_t job_id) {
  plan->state = state;
  plan->history.push_back({state, NowNs(), job_id});
}

// Drives one invocation of a run from where the plan row says it stands.
class RunDriver {
 public:
  RunDriver(catalog::Vault& vault, catalog::Plan plan, catalog::Job job, const PlanHost& host,
            const LiveRun& live)
      : vault_(vault), plan_(std::move(plan)), job_(std::move(job)), host_(host), live_(live) {}

  Status Execute(PlanOutcome* outcome);

 private:
  catalog::PlanRun& run() { return plan_.run; }
  Status Save() {
    job_.lines = run().step_lines;
    return catalog::PlanStore(vault_).Put(plan_, &job_);
  }
  void Say(const std::string& line) {
    if (host_.print) host_.print(line + "\n");
  }
  // Appends to the job's line for the current step.
  void Note(const std::string& text) {
    auto& lines = run().step_lines;
    if (lines.size() < run().step) lines.resize(run().step);
    std::string& line = lines[run().step - 1];
    line += (line.empty() ? "" : "; ") + text;
  }
  // "" while going on; else how the run stops: cancelled or interrupted.
  std::string Stopping() const {
    if (live_.CancelRequested()) return "cancelled";
    if (host_.cancelled && host_.cancelled()) return "interrupted";
    return "";
  }
  std::string StepName() const {
    return "step " + std::to_string(plan_.run.step) + "/" + std::to_string(plan_.steps.size());
  }
  Status RunScripts(const catalog::PlanStep& step, const std::vector<std::string>& scripts,
                    std::string* stop);
  Status RunGroups(const catalog::PlanStep& step, std::string* stop);
  // Ends this invocation: the run's status, the job's, the plan's state.
  Status Finish(const std::string& status, const std::string& error, PlanOutcome* outcome);

  catalog::Vault& vault_;
  catalog::Plan plan_;
  catalog::Job job_;
  const PlanHost& host_;
  const LiveRun& live_;
};

Status RunDriver::RunScripts(const catalog::PlanStep& step, const std::vector<std::string>& scripts,
                             std::string* stop) {
  const std::string phase = run().phase;
  std::vector<std::string> branches;
  for (const std::string& g : step.groups) branches.push_back(run().groups[g].branch);
  while (run().script < scripts.size()) {
    const std::string& cmd = scripts[run().script];
    const std::string label = phase + " script " + std::to_string(run().script + 1);
    ScriptOptions o;
    o.env = {{"RPFS_VAULT", host_.vault_dir},
             {"RPFS_PLAN", plan_.name},
             {"RPFS_OPERATION", run().operation},
             {"RPFS_STEP", std::to_string(run().step)},
             {"RPFS_PHASE", phase},
             {"RPFS_GROUPS", Join(step.groups, " ")},
             {"RPFS_BRANCH", Join(branches, " ")},
             {"RPFS_DISKS", ScriptDisks(vault_, run(), step.groups, phase, host_.mountpoint)}};
    if (!host_.mountpoint.empty()) o.env["RPFS_MOUNT"] = host_.mountpoint;
    o.cwd = host_.cwd;
    o.timeout_ms = step.timeout_s * 1000;
    o.cancelled = [this] { return !Stopping().empty(); };
    o.output = [this](const std::string& chunk) {
      if (host_.print) host_.print(chunk);
    };
    Say(StepName() + " " + label + ": " + cmd);
    ScriptResult r;
    Status s = RunScript(cmd, o, &r);
    if (!s.ok()) {
      *stop = "failed";
      return Status::InvalidArgument(StepName() + " " + label + ": " + s.message());
    }
    if (r.cancelled) {
      *stop = Stopping().empty() ? "interrupted" : Stopping();
      Note(label + " `" + cmd + "` stopped (" + *stop + ")");
      return Status::OK();
    }
    char took[32];
    std::snprintf(took, sizeof took, "%.2f s", r.seconds);
    if (r.timed_out || r.exit_code != 0) {
      run().script_exit = r.exit_code;
      run().script_output = r.output_tail;
      job_.output = r.output_tail;
      std::string why = r.timed_out ? "passed its timeout of " + FormatDuration(step.timeout_s) +
                                          " and was killed (exit " + std::to_string(r.exit_code) + ")"
                                    : "exited " + std::to_string(r.exit_code);
      Note(label + " `" + cmd + "` " + why + " after " + took);
      *stop = "failed";
      return Status::InvalidArgument(StepName() + " " + label + " `" + cmd + "` " + why);
    }
    Note(label + " `" + cmd + "` exit 0 (" + took + ")");
    ++run().script;
    RPFS_RETURN_IF_ERROR(Save());
  }
  return Status::OK();
}

Status RunDriver::RunGroups(const catalog::PlanStep& step, std::string* stop) {
  for (const std::string& g : step.groups) {
    catalog::PlanGroupRun& record = run().groups[g];
    if (record.done) continue;
    *stop = Stopping();
    if (!stop->empty()) return Status::OK();
    std::string said;
    Status s = RunGroupOperation(vault_, run(), g, &record, &said);
    if (!s.ok()) {
      *stop = "failed";
      Note(g + ": " + run().operation + " failed: " + s.message());
      return Status::InvalidArgument(StepName() + " group " + g + ": " + s.message());
    }
    record.done = true;
    Note(said);
    Say(StepName() + " " + said);
    RPFS_RETURN_IF_ERROR(Save());
  }
  return Status::OK();
}

Status RunDriver::Execute(PlanOutcome* outcome) {
  const bool scripted = run().operation != "cleanup";
  while (run().step <= plan_.steps.size()) {
    const catalog::PlanStep& step = plan_.steps[run().step - 1];
    if (run().step_lines.size() < run().step || run().step_lines[run().step - 1].empty()) {
      Note("groups " + Join(step.groups, " ") + "; started " + catalog::FormatRfc3339(NowNs()));
    }
    std::string stop;
    if (run().phase == "manual") {
      if (scripted && !step.manual.empty() && !run().manual_done) {
        Note("waiting: " + step.manual);
        Say(StepName() + " waits for a manual action: " + step.manual);
        Say("run `rpfs plan resume " + plan_.name + "` once it is done");
        return Finish("waiting", "", outcome);
      }
      if (!step.manual.empty() && scripted) Note("manual action confirmed");
      run().phase = "pre";
      run().script = 0;
      RPFS_RETURN_IF_ERROR(Save());
    }
    if (run().phase == "pre") {
      Status s = scripted ? RunScripts(step, step.pre, &stop) : Status::OK();
      if (!stop.empty()) return Finish(stop, s.ok() ? "" : s.message(), outcome);
      RPFS_RETURN_IF_ERROR(s);
      run().phase = "groups";
      RPFS_RETURN_IF_ERROR(Save());
    }
    if (run().phase == "groups") {
      Status s = RunGroups(step, &stop);
      if (!stop.empty()) return Finish(stop, s.ok() ? "" : s.message(), outcome);
      RPFS_RETURN_IF_ERROR(s);
      run().phase = "post";
      run().script = 0;
      RPFS_RETURN_IF_ERROR(Save());
    }
    if (run().phase == "post") {
      Status s = scripted ? RunScripts(step, step.post, &stop) : Status::OK();
      if (!stop.empty()) return Finish(stop, s.ok() ? "" : s.message(), outcome);
      RPFS_RETURN_IF_ERROR(s);
    }
    Note("finished " + catalog::FormatRfc3339(NowNs()));
    ++run().step;
    run().phase = "manual";
    run().script = 0;
    run().manual_done = false;
    RPFS_RETURN_IF_ERROR(Save());
  }
  return Finish("done", "", outcome);
}

Status RunDriver::Finish(const std::string& status, const std::string& error, PlanOutcome* outcome) {
  run().status = status;
  run().error = error;
  const uint64_t now = NowNs();
  job_.end_ns = now;
  if (status == "done") {
    run().end_ns = now;
    SetState(&plan_, StateAfter(run().operation), job_.id);
    job_.state = "succeeded";
    job_.details = "plan " + plan_.name + ": " + run().operation + " of " +
                   std::to_string(plan_.steps.size()) + " steps; " + plan_.state;
  } else if (status == "cancelled") {
    run().end_ns = now;
    SetState(&plan_, CancelledState(vault_, plan_), job_.id);
    job_.state = "cancelled";
    job_.details = "plan " + plan_.name + ": " + run().operation + " cancelled at step " +
                   std::to_string(run().step) + "; plan is " + plan_.state;
  } else {
    job_.state = status == "failed" ? "failed" : status;  // waiting, interrupted
    job_.details = "plan " + plan_.name + ": " + PlanDisplayState(plan_);
  }
  RPFS_RETURN_IF_ERROR(Save());
  outcome->status = status;
  outcome->state = PlanDisplayState(plan_);
  outcome->job_id = job_.id;
  if (status == "failed") {
    return Status::InvalidArgument("plan " + plan_.name + ": " + error + "; the run is failed at step " +
                                   std::to_string(run().step) + " (fix it and `plan resume " +
                                   plan_.name + "`, or `plan cancel " + plan_.name + "`)");
  }
  if (status == "interrupted") {
    return Status::InvalidArgument("plan " + plan_.name + ": " + run().operation +
                                   " interrupted at step " + std::to_string(run().step) +
                                   "; `plan resume " + plan_.name + "` continues it");
  }
  return Status::OK();
}

Status LoadPlan(catalog::Vault& vault, const std::string& name, catalog::Plan* plan) {
  Status s = catalog::PlanStore(vault).Get(name, plan);
  if (s.IsNotFound()) return Status::InvalidArgument("unknown plan '" + name + "'");
  return s;
}

Status StartJob(catalog::Vault& vault, const catalog::Plan& plan, const std::string& details,
                catalog::Job* job) {
  job->kind = "plan-" + plan.run.operation;
  job->plan = plan.name;
  job->details = details;
  return catalog::JobLog(vault).Start(job);
}

}  // namespace

std::string PlanDisplayState(const catalog::Plan& plan) {
  const catalog::PlanRun& run = plan.run;
  const std::string at = "at step " + std::to_string(run.step) + " (" + run.operation + ")";
  if (run.status == "running") {
    return IsLive(plan.name) ? "running " + run.operation + " at step " + std::to_string(run.step)
                             : "interrupted " + at;
  }
  if (run.status == "interrupted") return "interrupted " + at;
  if (run.status == "failed") return "failed " + at + ": " + run.error;
  if (run.status == "waiting" && run.step >= 1 && run.step <= plan.steps.size()) {
    return "waiting " + at + ": " + plan.steps[run.step - 1].manual;
  }
  return plan.state;
}

Status StartPlanRun(catalog::Vault& vault, const std::string& name, const PlanRunOptions& options,
                    const PlanHost& host, PlanOutcome* outcome) {
  catalog::Plan plan;
  RPFS_RETURN_IF_ERROR(LoadPlan(vault, name, &plan));
  LiveRun live(name);
  RPFS_RETURN_IF_ERROR(live.Register());
  if (RunUnfinished(plan.run)) {
    return Status::InvalidArgument("plan " + name + " is " + PlanDisplayState(plan) +
                                   ": `plan resume " + name + "` or `plan cancel " + name + "` first");
  }
  if (plan.state.rfind("mixed", 0) == 0) plan.state = StateOfGroups(vault, plan.steps);
  RPFS_RETURN_IF_ERROR(CheckOperationAllowed(vault, plan, options.operation));
  RPFS_RETURN_IF_ERROR(CheckOtherPlans(vault, plan));
  if (options.operation != "failover" && options.fence_source) {
    return Status::InvalidArgument("--fence-source applies to a failover");
  }
  // Every input is checked before the job or anything else is written.
  // The job's id goes into default branch names: check with the id it
  // is about to get.
  const uint64_t guessed_id = catalog::JobLog(vault).NextId();
  catalog::PlanRun fresh;
  RPFS_RETURN_IF_ERROR(PrepareGroupRuns(vault, plan, options, guessed_id, &fresh));
  catalog::Plan before = plan;
  plan.run = catalog::PlanRun();
  plan.run.operation = options.operation;
  catalog::Job job;
  RPFS_RETURN_IF_ERROR(StartJob(vault, plan, "plan " + name + ": " + options.operation, &job));
  if (job.id != guessed_id) {
    // Another job started in between (in the daemon): check the names again.
    fresh = catalog::PlanRun();
    Status s = PrepareGroupRuns(vault, before, options, job.id, &fresh);
    if (!s.ok()) {
      (void)catalog::JobLog(vault).Finish(&job, s);
      return s;
    }
  }
  fresh.status = "running";
  fresh.job_id = job.id;
  fresh.step = 1;
  fresh.phase = "manual";
  fresh.start_ns = NowNs();
  plan.run = fresh;
  std::string point = fresh.common_seq ? " at seq " + std::to_string(fresh.common_seq) : "";
  if (host.print) {
    host.print("plan " + name + ": " + options.operation + " of " + std::to_string(plan.steps.size()) +
               " steps (job " + std::to_string(job.id) + ")" + point + "\n");
  }
  RunDriver driver(vault, plan, job, host, live);
  return driver.Execute(outcome);
}

Status ResumePlanRun(catalog::Vault& vault, const std::string& name, bool skip_failed,
                     const PlanHost& host, PlanOutcome* outcome) {
  catalog::Plan plan;
  RPFS_RETURN_IF_ERROR(LoadPlan(vault, name, &plan));
  LiveRun live(name);
  RPFS_RETURN_IF_ERROR(live.Register());
  catalog::PlanRun& run = plan.run;
  if (!RunUnfinished(run)) {
    return Status::InvalidArgument("plan " + name + " has no run to resume (" +
                                   (run.status.empty() ? "never run" : "its last " + run.operation +
                                                                           " run is " + run.status) +
                                   ")");
  }
  if (skip_failed && run.status != "failed") {
    return Status::InvalidArgument("--skip-failed: plan " + name + " is " + PlanDisplayState(plan) +
                                   ", nothing failed");
  }
  RPFS_RETURN_IF_ERROR(CheckOtherPlans(vault, plan));
  const uint64_t previous_job = run.job_id;
  std::string note = "resumed " + catalog::FormatRfc3339(NowNs()) + " from job " + std::to_string(previous_job);
  if (run.status == "waiting") run.manual_done = true;
  if (run.status == "failed" && skip_failed) {
    if (run.phase == "groups") {
      const catalog::PlanStep& step = plan.steps[run.step - 1];
      for (const std::string& g : step.groups) {
        catalog::PlanGroupRun& r = run.groups[g];
        if (r.done) continue;
        r.done = r.skipped = true;
        note += "; skipped group " + g;
        break;
      }
    } else {
      note += "; skipped " + run.phase + " script " + std::to_string(run.script + 1);
      ++run.script;
    }
  }
  if (run.step_lines.size() < run.step) run.step_lines.resize(run.step);
  std::string& line = run.step_lines[run.step - 1];
  line += (line.empty() ? "" : "; ") + note;
  catalog::Job job;
  RPFS_RETURN_IF_ERROR(StartJob(vault, plan, "plan " + name + ": " + run.operation + ", resumes job " +
                                                 std::to_string(previous_job),
                                &job));
  run.status = "running";
  run.error.clear();
  run.job_id = job.id;
  if (host.print) {
    host.print("plan " + name + ": resuming " + run.operation + " at step " + std::to_string(run.step) +
               " (job " + std::to_string(job.id) + ")\n");
  }
  RunDriver driver(vault, plan, job, host, live);
  return driver.Execute(outcome);
}

Status CancelPlanRun(catalog::Vault& vault, const std::string& name, PlanOutcome* outcome) {
  catalog::Plan plan;
  RPFS_RETURN_IF_ERROR(LoadPlan(vault, name, &plan));
  {
    std::lock_guard<std::mutex> l(live_mu);
    auto it = live_runs.find(name);
    if (it != live_runs.end()) it->second->store(true);
  }
  if (IsLive(name)) {
    // The run stops at its next check (a script is stopped at once).
    for (int i = 0; i < 300 && IsLive(name); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    RPFS_RETURN_IF_ERROR(LoadPlan(vault, name, &plan));
    if (IsLive(name)) return Status::Internal("plan " + name + ": the run did not stop within 30 s");
  } else {
    if (!RunUnfinished(plan.run)) {
      return Status::InvalidArgument("plan " + name + " has no unfinished run to cancel (" +
                                     PlanDisplayState(plan) + ")");
    }
    plan.run.status = "cancelled";
    plan.run.end_ns = NowNs();
    SetState(&plan, CancelledState(vault, plan), plan.run.job_id);
    auto& lines = plan.run.step_lines;
    if (lines.size() < plan.run.step) lines.resize(plan.run.step);
    std::string& line = lines[plan.run.step - 1];
    line += (line.empty() ? "" : "; ") + std::string("cancelled ") + catalog::FormatRfc3339(NowNs());
    RPFS_RETURN_IF_ERROR(catalog::PlanStore(vault).Put(plan, nullptr));
  }
  outcome->status = plan.run.status;
  outcome->state = PlanDisplayState(plan);
  outcome->job_id = plan.run.job_id;
  return Status::OK();
}

}  // namespace rpfs::tools
