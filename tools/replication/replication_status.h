// What `stat` and `group list` say about a group's replication: on a
// source, its target, how far behind it is (bytes and the age of the
// oldest write not yet acknowledged) and whether that passes the group's
// RPO; on a target, which vault it follows and how far it got.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "catalog/vault.h"

namespace rpfs::tools {

// null if the group neither replicates nor is a replica.
Status ReplicationStatusJson(catalog::Vault& vault, const catalog::Group& group, nlohmann::json* out);
// One line for people ("" for null).
std::string ReplicationStatusLine(const nlohmann::json& status);

}  // namespace rpfs::tools
