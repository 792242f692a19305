#!/usr/bin/env bash
# Configures and builds rpfs in build/ (or $RPFS_BUILD_DIR). Extra
# arguments go to cmake, e.g. -DRPFS_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RPFS_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${RPFS_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j "${RPFS_JOBS:-2}"
