// rpfs jobs [--json]: every failover, test failover, cleanup, reprotect,
// failback, import, export, replication and plan run, oldest first
// (catalog/job_log.h). A plan run's lines (one per step) follow it.
#include <nlohmann/json.hpp>

#include "catalog/job_log.h"
#include "catalog/time_format.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

void RegisterJobs(CLI::App& app, Context* ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* jobs = app.add_subcommand("jobs", "Job history: long operations and their state");
  jobs->add_flag("--json", *json, "Print JSON");
  jobs->callback([json, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    auto list = catalog::JobLog(*v).List();
    auto when = [](uint64_t ns) { return ns ? catalog::FormatRfc3339(ns) : std::string("-"); };
    if (*json) {
      nlohmann::json j = nlohmann::json::array();
      for (const catalog::Job& job : list) {
        nlohmann::json row = job;
        row.erase("checkpoint");
        row["start"] = when(job.start_ns);
        row["end"] = when(job.end_ns);
        j.push_back(row);
      }
      ctx->out() << j.dump(2) << "\n";
      return;
    }
    ctx->Printf("%-5s %-18s %-10s %-12s %-25s %-25s %-9s %s\n", "ID", "KIND", "GROUP/PLAN", "STATE",
                "START", "END", "PROGRESS", "DETAILS");
    for (const catalog::Job& job : list) {
      std::string progress = "-";
      if (job.progress_total > 0) {
        progress = std::to_string(job.progress_done * 100 / job.progress_total) + "%";
      }
      ctx->Printf("%-5llu %-18s %-10s %-12s %-25s %-25s %-9s %s\n",
                  static_cast<unsigned long long>(job.id), job.kind.c_str(),
                  !job.group.empty() ? job.group.c_str() : !job.plan.empty() ? job.plan.c_str() : "-",
                  job.state.c_str(),
                  when(job.start_ns).c_str(), when(job.end_ns).c_str(), progress.c_str(),
                  job.details.c_str());
      for (const std::string& line : job.lines) ctx->Printf("      %s\n", line.c_str());
    }
  });
}

}  // namespace rpfs::tools
