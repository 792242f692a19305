#include "tools/dr/failback.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "catalog/job_log.h"
#include "tools/dr/failback_plan.h"
#include "tools/dr/failback_target.h"

namespace rpfs::tools {
namespace {

// The job row's checkpoint: enough to continue where a killed run stopped.
struct Checkpoint {
  uint64_t seq = 0;
  std::map<std::string, std::string> targets;
  bool verify = false;
  std::string phase = "copy";  // copy, verify
  size_t disk_index = 0;       // the group's disks in name order
  uint64_t next_block = 0;     // first block of disk_index not yet done
  uint64_t data_bytes = 0;     // written by every run so far
  uint64_t metadata_bytes = 0;
  uint64_t repaired_blocks = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Checkpoint, seq, targets, verify, phase, disk_index,
                                                next_block, data_bytes, metadata_bytes,
                                                repaired_blocks)

constexpr size_t kRunBlocks = 256;  // blocks per read/write call, at most

// Keeps the write rate at or under max_rate bytes/s.
class Throttle {
 public:
  explicit Throttle(uint64_t rate) : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  void Account(uint64_t bytes) {
    if (rate_ == 0) return;
    sent_ += bytes;
    auto due = start_ + std::chrono::duration<double>(static_cast<double>(sent_) / rate_);
    std::this_thread::sleep_until(due);
  }

 private:
  uint64_t rate_;
  uint64_t sent_ = 0;
  std::chrono::steady_clock::time_point start_;
};

Status CheckTargets(catalog::Vault& vault, const std::string& group,
                    const std::vector<catalog::Disk>& disks,
                    const std::map<std::string, std::string>& targets) {
  std::set<std::string> paths;
  for (const auto& [name, path] : targets) {
    catalog::Disk d;
    if (!vault.FindDisk(name, &d).ok()) return Status::NotFound("--target: unknown disk '" + name + "'");
    if (d.group != group) {
      return Status::InvalidArgument("--target: disk " + name + " is in group " + d.group + ", not " +
                                     group);
    }
    if (!paths.insert(path).second) {
      return Status::InvalidArgument("--target: " + path + " is given for two disks");
    }
  }
  for (const catalog::Disk& d : disks) {
    if (!targets.count(d.name)) {
      return Status::InvalidArgument("failback of group " + group + " needs --target " + d.name +
                                     "=PATH (every disk of the group)");
    }
  }
  return Status::OK();
}

// The newest failback job of the group that did not succeed, if any.
bool FindUnfinished(catalog::Vault& vault, const std::string& group, catalog::Job* job) {
  auto jobs = catalog::JobLog(vault).List();
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
    if (it->kind != "failback" || it->group != group) continue;
    if (it->state == "succeeded" || it->checkpoint.is_null()) return false;
    *job = *it;
    return true;
  }
  return false;
}

class FailbackRun {
 public:
  FailbackRun(catalog::Vault& vault, const FailbackOptions& options, catalog::Job* job,
              Checkpoint* cp)
      : vault_(vault), options_(options), job_(job), cp_(cp), throttle_(options.max_rate) {}

  Status Run(const std::vector<catalog::Disk>& disks,
             std::vector<std::unique_ptr<FailbackTarget>>& targets, const FailbackSide& side,
             FailbackResult* result);

 private:
  Status CopyDisk(const catalog::Disk& d, FailbackTarget& t, const std::vector<uint64_t>& blocks);
  Status VerifyDisk(const catalog::Disk& d, FailbackTarget& t);
  Status Save(FailbackTarget& t, uint64_t next_block);

  catalog::Vault& vault_;
  const FailbackOptions& options_;
  catalog::Job* job_;
  Checkpoint* cp_;
  Throttle throttle_;
  catalog::View view_;
  uint64_t since_save_ = 0;
  uint64_t base_data_ = 0, base_meta_ = 0;  // checkpoint totals before this target
};

Status FailbackRun::Save(FailbackTarget& t, uint64_t next_block) {
  RPFS_RETURN_IF_ERROR(t.Sync());  // the bytes first, then the claim they are there
  cp_->next_block = next_block;
  cp_->data_bytes = base_data_ + t.data_bytes_written();
  cp_->metadata_bytes = base_meta_ + t.metadata_bytes_written();
  job_->checkpoint = *cp_;
  since_save_ = 0;
  return catalog::JobLog(vault_).Update(*job_);
}

Status FailbackRun::CopyDisk(const catalog::Disk& d, FailbackTarget& t,
                             const std::vector<uint64_t>& blocks) {
  const uint64_t bs = vault_.block_size();
  std::vector<char> buf(kRunBlocks * bs);
  auto it = std::lower_bound(blocks.begin(), blocks.end(), cp_->next_block);
  while (it != blocks.end()) {
    auto run_end = it + 1;
    while (run_end != blocks.end() && *run_end == *(run_end - 1) + 1 &&
           static_cast<size_t>(run_end - it) < kRunBlocks) {
      ++run_end;
    }
    const uint64_t off = *it * bs;
    const size_t n = static_cast<size_t>(run_end - it) * bs;
    RPFS_RETURN_IF_ERROR(vault_.Read(d.id, view_, off, n, buf.data()));
    RPFS_RETURN_IF_ERROR(t.Write(off, buf.data(), n));
    throttle_.Account(n);
    job_->progress_done += n;
    since_save_ += n;
    if (options_.progress) options_.progress(job_->progress_done, job_->progress_total);
    it = run_end;
    if (since_save_ >= options_.checkpoint_bytes && it != blocks.end()) {
      RPFS_RETURN_IF_ERROR(Save(t, *it));
    }
  }
  return Status::OK();
}

Status FailbackRun::VerifyDisk(const catalog::Disk& d, FailbackTarget& t) {
  const uint64_t bs = vault_.block_size();
  std::vector<char> want(kRunBlocks * bs), have(kRunBlocks * bs);
  const uint64_t nblocks = d.size / bs;
  for (uint64_t b = cp_->next_block; b < nblocks; b += kRunBlocks) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(kRunBlocks, nblocks - b));
    RPFS_RETURN_IF_ERROR(vault_.Read(d.id, view_, b * bs, count * bs, want.data()));
    RPFS_RETURN_IF_ERROR(t.Read(b * bs, count * bs, have.data()));
    for (size_t i = 0; i < count; ++i) {
      if (std::memcmp(want.data() + i * bs, have.data() + i * bs, bs) == 0) continue;
      RPFS_RETURN_IF_ERROR(t.Write((b + i) * bs, want.data() + i * bs, bs));
      cp_->repaired_blocks++;
    }
    job_->progress_done += count * bs;
    since_save_ += count * bs;
    if (options_.progress) options_.progress(job_->progress_done, job_->progress_total);
    if (since_save_ >= 4 * options_.checkpoint_bytes) RPFS_RETURN_IF_ERROR(Save(t, b + count));
  }
  return Status::OK();
}

Status FailbackRun::Run(const std::vector<catalog::Disk>& disks,
                        std::vector<std::unique_ptr<FailbackTarget>>& targets,
                        const FailbackSide& side, FailbackResult* result) {
  view_ = side.target;
  const uint64_t bs = vault_.block_size();
  std::vector<std::vector<uint64_t>> plan(disks.size());
  job_->progress_total = 0;
  job_->progress_done = 0;
  for (size_t i = 0; i < disks.size(); ++i) {
    RPFS_RETURN_IF_ERROR(FailbackBlocks(vault_, disks[i].id, side, &plan[i]));
    result->changed_blocks += plan[i].size();
    job_->progress_total += plan[i].size() * bs + (cp_->verify ? disks[i].size : 0);
    // Progress already made by earlier runs.
    const bool copied = cp_->phase == "verify" || i < cp_->disk_index;
    const auto done = copied ? plan[i].end()
                             : i > cp_->disk_index
                                   ? plan[i].begin()
                                   : std::lower_bound(plan[i].begin(), plan[i].end(), cp_->next_block);
    job_->progress_done += static_cast<uint64_t>(done - plan[i].begin()) * bs;
    if (cp_->phase == "verify" && i < cp_->disk_index) job_->progress_done += disks[i].size;
    if (cp_->phase == "verify" && i == cp_->disk_index) job_->progress_done += cp_->next_block * bs;
  }
  for (const char* phase : {"copy", "verify"}) {
    if (std::string(phase) == "verify" && !cp_->verify) break;
    if (std::string(phase) == "copy" && cp_->phase == "verify") continue;
    if (cp_->phase != phase) {
      cp_->phase = phase;
      cp_->disk_index = 0;
      cp_->next_block = 0;
    }
    while (cp_->disk_index < disks.size()) {
      FailbackTarget& t = *targets[cp_->disk_index];
      base_data_ = cp_->data_bytes - t.data_bytes_written();
      base_meta_ = cp_->metadata_bytes - t.metadata_bytes_written();
      if (cp_->phase == "copy") {
        RPFS_RETURN_IF_ERROR(CopyDisk(disks[cp_->disk_index], t, plan[cp_->disk_index]));
      } else {
        RPFS_RETURN_IF_ERROR(VerifyDisk(disks[cp_->disk_index], t));
        result->verified_bytes += disks[cp_->disk_index].size;
      }
      cp_->disk_index++;
      RPFS_RETURN_IF_ERROR(Save(t, 0));
    }
  }
  for (auto& t : targets) {
    result->data_bytes += t->data_bytes_written();
    result->metadata_bytes += t->metadata_bytes_written();
  }
  result->repaired_blocks = cp_->repaired_blocks;
  return Status::OK();
}

}  // namespace

Status RunFailback(catalog::Vault& vault, const std::string& group, const FailbackOptions& options,
                   FailbackResult* result) {
  *result = FailbackResult();
  catalog::Group g;
  RPFS_RETURN_IF_ERROR(vault.GetGroup(group, &g));
  if (g.state == "failed-over") {
    return Status::InvalidArgument("group " + group + " is failed-over: run 'rpfs reprotect " +
                                   group + "' before failback");
  }
  if (g.state != "reprotected") {
    return Status::InvalidArgument("group " + group + " is " + g.state +
                                   ": failback follows failover and reprotect");
  }
  std::vector<catalog::Disk> disks;
  for (const catalog::Disk& d : vault.ListDisks()) {
    if (d.group == group) disks.push_back(d);
  }
  if (disks.empty()) return Status::InvalidArgument("group " + group + " has no disks");
  RPFS_RETURN_IF_ERROR(CheckTargets(vault, group, disks, options.targets));

  catalog::Job job;
  Checkpoint cp;
  result->resumed = FindUnfinished(vault, group, &job);
  if (result->resumed) {
    try {
      cp = job.checkpoint.get<Checkpoint>();
    } catch (const std::exception& e) {
      return Status::Corruption("failback job " + std::to_string(job.id) +
                                ": malformed checkpoint: " + e.what());
    }
    if (cp.targets != options.targets) {
      return Status::InvalidArgument("failback job " + std::to_string(job.id) + " of group " +
                                     group + " is unfinished with other --target files; rerun "
                                     "it with the same targets");
    }
    result->point = "seq " + std::to_string(cp.seq) + " (job " + std::to_string(job.id) + ")";
  } else {
    catalog::View v;
    RPFS_RETURN_IF_ERROR(vault.ResolveGroupView(
        group, options.point.empty() ? "latest" : options.point, &v, &result->point));
    cp.seq = std::min(v.seq, vault.last_seq());
    cp.targets = options.targets;
    cp.verify = options.verify;
  }
  if (result->resumed && !options.point.empty()) {
    catalog::View v;
    std::string what;
    RPFS_RETURN_IF_ERROR(vault.ResolveGroupView(group, options.point, &v, &what));
    if (std::min(v.seq, vault.last_seq()) != cp.seq) {
      return Status::InvalidArgument("failback job " + std::to_string(job.id) + " of group " +
                                     group + " is unfinished at seq " + std::to_string(cp.seq) +
                                     "; rerun it without --point to finish it");
    }
  }
  cp.verify = cp.verify || options.verify;
  FailbackSide side;
  RPFS_RETURN_IF_ERROR(FailbackViews(vault, group, cp.seq, &side));

  std::vector<std::unique_ptr<FailbackTarget>> targets(disks.size());
  for (size_t i = 0; i < disks.size(); ++i) {
    const std::string& path = options.targets.at(disks[i].name);
    RPFS_RETURN_IF_ERROR(FailbackTarget::Open(path, &targets[i]));
    if (targets[i]->size() != disks[i].size) {
      return Status::InvalidArgument("target " + path + " holds " +
                                     std::to_string(targets[i]->size()) + " bytes; disk " +
                                     disks[i].name + " is " + std::to_string(disks[i].size));
    }
    result->disk_bytes += disks[i].size;
  }

  job.kind = "failback";
  job.group = group;
  job.checkpoint = cp;
  if (result->resumed) {
    job.state = "running";
    job.end_ns = 0;
    RPFS_RETURN_IF_ERROR(catalog::JobLog(vault).Update(job));
  } else {
    RPFS_RETURN_IF_ERROR(catalog::JobLog(vault).Start(&job));
  }
  result->job_id = job.id;
  result->seq = cp.seq;
  FailbackRun run(vault, options, &job, &cp);
  Status s = run.Run(disks, targets, side, result);
  catalog::Branch primary;
  if (s.ok()) s = vault.FinishFailback(group, cp.seq, &primary);
  if (s.ok()) {
    result->new_primary = primary.name;
    job.details = "wrote " + std::to_string(cp.data_bytes) + " data bytes and " +
                  std::to_string(cp.metadata_bytes) + " metadata bytes (" +
                  std::to_string(result->changed_blocks) + " changed blocks) to disks of " +
                  std::to_string(result->disk_bytes) + " bytes at seq " + std::to_string(cp.seq) +
                  (cp.verify ? ", verified, " + std::to_string(cp.repaired_blocks) + " repaired"
                             : "") +
                  "; new primary " + primary.name;
  }
  job.checkpoint = cp;
  Status f = catalog::JobLog(vault).Finish(&job, s);
  return s.ok() ? f : s;
}

}  // namespace rpfs::tools
