// Recovery points and the views they name.
#include <cctype>
#include <chrono>
#include <mutex>

#include "catalog/time_format.h"
#include "catalog/vault.h"

namespace rpfs::catalog {

Status Vault::CreatePoint(const std::string& group, const std::string& kind,
                          const std::string& label, Point* point) {
  if (kind != "crash" && kind != "app") {
    return Status::InvalidArgument("bad point kind '" + kind + "': crash or app");
  }
  if (!label.empty() && std::all_of(label.begin(), label.end(),
                                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return Status::InvalidArgument("bad label '" + label + "': a label cannot be all digits");
  }
  Point p;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    const auto held_from = std::chrono::steady_clock::now();
    {
      std::shared_lock<std::shared_mutex> rl(rows_mu_);
      auto g = groups_.find(group);
      if (g == groups_.end()) return Status::NotFound("unknown group '" + group + "'");
      if (!g->second.replica_of.empty() && g->second.replica_branch == g->second.active_branch) {
        return Status::ReadOnly("group " + group + " is a replica of vault " +
                                g->second.replica_of + ": its points come from there");
      }
      p.branch = g->second.active_branch;
    }
    p.group = group;
    p.kind = kind;
    p.label = label;
    RPFS_RETURN_IF_ERROR(AppendPointLocked(&p));
    p.hold_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now() - held_from)
                                          .count());
    pending_points_.push_back(p);
  }
  RPFS_RETURN_IF_ERROR(FlushIndex());
  if (point) *point = p;
  return Status::OK();
}

Status Vault::AppendPointLocked(Point* p) {
  p->id = meta_.next_point_id;
  p->seq = last_seq_ + 1;
  // A replica's point keeps its source's time (never earlier than the last record's).
  p->time_ns = p->time_ns == 0 ? NextTimeLocked() : std::max(p->time_ns, last_time_ns_);
  last_time_ns_ = p->time_ns;
  std::string payload = nlohmann::json(*p).dump();
  journal::RecordHeader h;
  h.type = journal::RecordType::kPoint;
  h.payload_len = static_cast<uint32_t>(payload.size());
  h.length = h.payload_len;
  h.seq = p->seq;
  h.time_ns = p->time_ns;
  h.branch = p->branch;
  h.offset = p->id;
  journal::RecordLocation loc;
  RPFS_RETURN_IF_ERROR(journal_->Append(h, payload.data(), &loc));
  last_seq_ = p->seq;
  NoteTimeLocked(p->time_ns, p->seq);
  meta_.next_point_id = p->id + 1;
  // A point is only worth its name once every write before it is
  // durable; writes wait on the lock until then.
  return journal_->Sync();
}

std::vector<Point> Vault::ListPoints(const std::string& group) const {
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  std::vector<Point> out;
  for (auto& [id, p] : points_) {
    if (group.empty() || p.group == group) out.push_back(p);
  }
  return out;
}

Status Vault::SeqAtTime(uint64_t t_ns, uint64_t* seq) const {
  const uint64_t t_ms = t_ns / 1000000;
  // The first instant recorded after t_ms starts a seq that t cannot see.
  // Memory first (entries not yet flushed, or being flushed), then LMDB:
  // an entry that leaves memory after the first look was committed before
  // it left, so the second finds it; LMDB's entries are the older ones.
  bool found = false;
  uint64_t first_after = 0;
  uint64_t last;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    last = last_seq_;
    for (const auto* list : {&flushing_timeline_, &pending_timeline_}) {
      for (auto [ms, s] : *list) {
        if (ms > t_ms) {
          found = true;
          first_after = s;
          break;
        }
      }
      if (found) break;
    }
  }
  RPFS_RETURN_IF_ERROR(catalog_->env().View([&](Txn& txn) {
    Cursor c(txn, catalog_->timeline);
    RPFS_RETURN_IF_ERROR(c.SeekAtLeast(BigEndianKey64(t_ms + 1)));
    if (c.valid() && c.value().size() == 8) {
      found = true;
      first_after = GetBE64(reinterpret_cast<const uint8_t*>(c.value().data()));
    }
    return Status::OK();
  }));
  *seq = found ? first_after - 1 : last;
  return Status::OK();
}

Status Vault::ResolveView(const Disk& disk, std::string_view spec, View* view,
                          std::string* description) const {
  const View latest = Latest(disk);
  auto newest_of_kind = [&](const std::string& kind) -> Status {
    std::shared_lock<std::shared_mutex> l(rows_mu_);
    for (auto it = points_.rbegin(); it != points_.rend(); ++it) {
      if (it->second.group == disk.group && it->second.kind == kind) {
        *view = View{it->second.branch, it->second.seq};
        *description = "point " + std::to_string(it->first) + " (" + kind + ", seq " +
                       std::to_string(it->second.seq) + ")";
        return Status::OK();
      }
    }
    return Status::NotFound("group " + disk.group + " has no " + kind + "-consistent point");
  };
  if (spec.empty()) return Status::InvalidArgument("empty point name");
  if (spec == "latest") {
    *view = latest;
    *description = "latest";
    return Status::OK();
  }
  if (spec == "latest-app") return newest_of_kind("app");
  if (spec == "latest-crash") return newest_of_kind("crash");
  if (spec[0] == '#') {
    std::string digits(spec.substr(1));
    if (digits.empty() || digits.size() > 19 ||
        !std::all_of(digits.begin(), digits.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return Status::InvalidArgument("bad sequence number '" + std::string(spec) +
                                     "': expected #N");
    }
    uint64_t seq = std::stoull(digits);
    if (seq > last_seq()) {
      return Status::NotFound("sequence number " + digits + " is past the newest write (seq " +
                              std::to_string(last_seq()) + ")");
    }
    {
      std::shared_lock<std::shared_mutex> l(rows_mu_);
      RPFS_RETURN_IF_ERROR(CheckHorizonLocked(disk.group, seq));
    }
    *view = View{latest.branch, seq};
    *description = "seq " + digits;
    return Status::OK();
  }
  if (spec[0] == '@') {
    uint64_t t;
    RPFS_RETURN_IF_ERROR(ParseRfc3339(spec.substr(1), &t));
    if (t < meta_.created_ns) {
      return Status::NotFound("time " + std::string(spec.substr(1)) +
                              " is before the vault was created (" +
                              FormatRfc3339(meta_.created_ns) + ")");
    }
    uint64_t seq;
    RPFS_RETURN_IF_ERROR(SeqAtTime(t, &seq));
    {
      std::shared_lock<std::shared_mutex> l(rows_mu_);
      Status s = CheckHorizonLocked(disk.group, seq);
      if (!s.ok()) return Status::NotFound("time " + std::string(spec.substr(1)) + ": " + s.message());
    }
    *view = View{latest.branch, seq};
    *description = "time " + std::string(spec.substr(1)) + " (seq " + std::to_string(seq) + ")";
    return Status::OK();
  }
  std::shared_lock<std::shared_mutex> l(rows_mu_);
  bool numeric = std::all_of(spec.begin(), spec.end(),
                             [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (numeric && spec.size() <= 19) {
    auto it = points_.find(std::stoull(std::string(spec)));
    if (it != points_.end() && it->second.group == disk.group) {
      *view = View{it->second.branch, it->second.seq};
      *description = "point " + std::string(spec);
      return Status::OK();
    }
  } else {
    for (auto it = points_.rbegin(); it != points_.rend(); ++it) {
      if (it->second.group == disk.group && it->second.label == spec) {
        *view = View{it->second.branch, it->second.seq};
        *description = "point " + std::to_string(it->first) + " '" + it->second.label + "'";
        return Status::OK();
      }
    }
  }
  return Status::NotFound("unknown point '" + std::string(spec) + "' for " +
                          (disk.name.empty() ? "group " + disk.group : "disk " + disk.name) +
                          " (expected a point id or label of group " + disk.group +
                          ", latest, latest-app, latest-crash, @RFC3339 time or #seq)");
}

Status Vault::ResolveGroupView(const std::string& group, std::string_view spec, View* view,
                               std::string* description) const {
  Disk any;  // points and "latest" are the group's: any of its disks resolves alike
  any.group = group;
  {
    std::shared_lock<std::shared_mutex> l(rows_mu_);
    if (!groups_.count(group)) return Status::NotFound("unknown group '" + group + "'");
  }
  return ResolveView(any, spec, view, description);
}

}  // namespace rpfs::catalog
