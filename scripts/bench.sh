#!/usr/bin/env bash
# Builds engine_bench in build/ (or $RPFS_BUILD_DIR) if needed and runs it
# on a scratch directory under ${TMPDIR:-/tmp}, where both the vault and
# the plain-file baseline live (same file system, so the ratios are fair).
# The scratch directory is removed afterwards. Extra arguments go to
# engine_bench, e.g. scripts/bench.sh --seq-mib 256 --later-versions 1000000.
#
# Then scripts/fuse_bench.sh (which also runs alone) measures the FUSE path
# with fio: rpfs vs libfuse's passthrough_ll vs the plain file system; see
# that script for its settings (RPFS_BENCH_FUSE_MIB, ...). RPFS_BENCH_FUSE=0
# skips it.
#
# Last, scripts/image_bench.sh times `rpfs disk import` and `rpfs export`
# (raw, vmdk-flat, vmdk-sparse, vmdk-stream) of a 2 GiB image against
# `qemu-img convert` of the same file; see that script for its settings.
# RPFS_BENCH_IMAGE=0 skips it.
#
# Then scripts/failback_bench.sh times `rpfs failback` of 64 MiB changed on
# a 4 GiB disk against a full `qemu-img convert` copy of it, and `rpfs
# failover --test` of a 4 GiB against a 64 GiB disk; see that script for
# its settings (RPFS_BENCH_FAILBACK_MIB, ...). RPFS_BENCH_FAILBACK=0 skips it.
#
# Then scripts/compaction_bench.sh measures random 4 KiB write IOPS through
# the mount with compaction running against idle, in one run (issue 6).
# RPFS_BENCH_COMPACT=0 skips it.
#
# Last, scripts/replication_bench.sh measures replication over loopback TLS:
# applied MB/s against the goal and a plain-file baseline, and the p99 lag
# under a steady 54 MB/s of writes (issue 8). RPFS_BENCH_REPL=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RPFS_BUILD_DIR:-build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${RPFS_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi
cmake --build "$build" --target engine_bench -j "${RPFS_JOBS:-2}" >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/rpfs-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
"$build/tests/engine_bench" "$scratch" "$@"
rm -rf "$scratch"

if [ "${RPFS_BENCH_FUSE:-1}" != 0 ]; then
  scripts/fuse_bench.sh
fi

if [ "${RPFS_BENCH_IMAGE:-1}" != 0 ]; then
  scripts/image_bench.sh
fi

if [ "${RPFS_BENCH_FAILBACK:-1}" != 0 ]; then
  scripts/failback_bench.sh
fi

if [ "${RPFS_BENCH_COMPACT:-1}" != 0 ]; then
  scripts/compaction_bench.sh
fi

if [ "${RPFS_BENCH_REPL:-1}" != 0 ]; then
  scripts/replication_bench.sh
fi
