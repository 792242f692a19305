#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest.
# The suite runs on a Release build (-O3, in build-release/): the code a
# packager ships is the code tested; warnings are errors (RPFS_WERROR).
# RPFS_BUILD_TYPE / RPFS_BUILD_DIR choose another build (RelWithDebInfo in
# build/ is what scripts/build.sh makes by default).
# RPFS_SANITIZE=1 builds with ASan+UBSan in build-sanitize/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ "${RPFS_SANITIZE:-0}" = 1 ]; then
  export RPFS_BUILD_DIR=${RPFS_BUILD_DIR:-build-sanitize}
  scripts/build.sh -DRPFS_SANITIZE=ON
else
  export RPFS_BUILD_TYPE=${RPFS_BUILD_TYPE:-Release}
  export RPFS_BUILD_DIR=${RPFS_BUILD_DIR:-build-release}
  scripts/build.sh
fi
cd "$RPFS_BUILD_DIR"
ctest --output-on-failure -j "${RPFS_TEST_JOBS:-2}" --timeout 900
