#include "tools/replication/replication_status.h"

#include "catalog/time_format.h"
#include "tools/units.h"

namespace rpfs::tools {

Status ReplicationStatusJson(catalog::Vault& vault, const catalog::Group& g, nlohmann::json* out) {
  *out = nullptr;
  catalog::Vault::ReplicationLag lag;
  Status s = vault.GetReplicationLag(g.name, &lag);
  if (s.ok()) {
    const uint64_t lag_s = lag.lag_ns / 1000000000ull;
    *out = {{"role", "source"},
            {"target", lag.row.target},
            {"target_vault", lag.row.target_vault},
            {"acked_seq", lag.row.acked_seq},
            {"last_ack", lag.row.updated_ns ? catalog::FormatRfc3339(lag.row.updated_ns) : ""},
            {"bytes_behind", lag.bytes_behind},
            {"behind_since", lag.behind_since_ns ? catalog::FormatRfc3339(lag.behind_since_ns) : ""},
            {"lag_s", lag_s},
            {"rpo_s", g.rpo_s},
            {"rpo_exceeded", g.rpo_s > 0 && lag.lag_ns > g.rpo_s * 1000000000ull}};
    return Status::OK();
  }
  if (!s.IsNotFound()) return s;
  if (g.replica_of.empty()) return Status::OK();
  catalog::ReplicaLink link;
  if (!vault.GetLink(g.replica_of, g.name, &link).ok()) link = catalog::ReplicaLink();
  *out = {{"role", "replica"},
          {"source_vault", g.replica_of},
          {"applied_seq", link.applied_seq},
          {"applied_time", link.applied_time_ns ? catalog::FormatRfc3339(link.applied_time_ns) : ""},
          {"catching_up", link.step_to != 0},
          {"records", link.records},
          {"bytes", link.bytes},
          {"chain", link.chain}};
  return Status::OK();
}

std::string ReplicationStatusLine(const nlohmann::json& j) {
  if (!j.is_object()) return "";
  if (j.value("role", "") == "replica") {
    return "replica of vault " + j.value("source_vault", "") + ", applied its seq " +
           std::to_string(j.value("applied_seq", uint64_t{0})) +
           (j.value("applied_time", "").empty() ? "" : " (" + j.value("applied_time", "") + ")") +
           (j.value("catching_up", false) ? ", catching up" : "");
  }
  std::string line = "replicates to " + j.value("target", "") + ": ";
  const uint64_t behind = j.value("bytes_behind", uint64_t{0});
  if (behind == 0) {
    line += "caught up (seq " + std::to_string(j.value("acked_seq", uint64_t{0})) + ")";
  } else {
    line += "lag " + FormatDuration(j.value("lag_s", uint64_t{0})) + ", " + FormatBytes(behind) +
            " behind";
  }
  if (j.value("rpo_exceeded", false)) {
    line += "; RPO ALERT: lag passes the RPO of " + FormatDuration(j.value("rpo_s", uint64_t{0}));
  }
  return line;
}

}  // namespace rpfs::tools
