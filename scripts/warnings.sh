#!/usr/bin/env bash
# Builds everything (rpfs, its tests) with another compiler and build type,
# warnings as errors, to show the code is warning-free beyond the build the
# suite ran on. Default: clang++ at -O2 (RelWithDebInfo) in build-clang/.
#   RPFS_CXX=g++ RPFS_BUILD_TYPE=Release scripts/warnings.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${RPFS_CXX:-clang++}
command -v "$cxx" >/dev/null || { echo "warnings.sh: $cxx is not installed (scripts/setup.sh installs clang)" >&2; exit 1; }
RPFS_BUILD_DIR=${RPFS_BUILD_DIR:-build-${cxx%%+*}} RPFS_BUILD_TYPE=${RPFS_BUILD_TYPE:-RelWithDebInfo} \
  CXX=$cxx scripts/build.sh
echo "warnings.sh: $cxx ${RPFS_BUILD_TYPE:-RelWithDebInfo}: no warnings"
