#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest.
# RPFS_SANITIZE=1 builds with ASan+UBSan in build-sanitize/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ "${RPFS_SANITIZE:-0}" = 1 ]; then
  export RPFS_BUILD_DIR=${RPFS_BUILD_DIR:-build-sanitize}
  scripts/build.sh -DRPFS_SANITIZE=ON
else
  scripts/build.sh
fi
cd "${RPFS_BUILD_DIR:-build}"
ctest --output-on-failure -j "${RPFS_TEST_JOBS:-2}" --timeout 900
