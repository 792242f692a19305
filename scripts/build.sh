#!/usr/bin/env bash
# Configures and builds rpfs in build/ (or $RPFS_BUILD_DIR), warnings as
# errors (RPFS_WERROR). Extra arguments go to cmake, e.g. -DRPFS_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RPFS_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${RPFS_BUILD_TYPE:-RelWithDebInfo} -DRPFS_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j "${RPFS_JOBS:-2}"
