// Taking a recovery point of a group, as `rpfs point create` and the
// mount daemon's schedule do.
//
// Crash-consistent: a marker, nothing paused. App-consistent: the group's
// freeze hook runs; then writes are held (the vault's write lock) while
// the marker is appended and synced; then the thaw hook runs. The point's
// hold_ns says how long writes were held. Hooks run as /bin/sh -c CMD with
// RPFS_GROUP and RPFS_OPERATION (freeze|thaw) in the environment; a failed
// freeze hook means no point (and no thaw).
#pragma once

#include <string>

#include "catalog/vault.h"

namespace rpfs::catalog {

Status TakeGroupPoint(Vault& vault, const std::string& group, bool app, const std::string& label,
                      Point* point);

}  // namespace rpfs::catalog
