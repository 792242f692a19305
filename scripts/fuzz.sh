#!/usr/bin/env bash
# Builds the libFuzzer targets of the image readers and of the
# replication wire protocol's frame parser with clang
# (tests/fuzz/) and runs each for a bounded time on a seed corpus: the
# tiny hand-made seeds in tests/fuzz/seeds/ plus images qemu-img makes
# here. A crash, a sanitizer report or a broken reader promise fails the
# run (exit 1); so does a missing clang or qemu-img (scripts/setup.sh
# installs both): never a silent skip. CTest runs it as image_reader_fuzz.
#
#   scripts/fuzz.sh [BUILD_DIR]        default build-fuzz
#   RPFS_FUZZ_SECONDS=30               time per target
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${RPFS_FUZZ_SECONDS:-30}

for tool in clang++ qemu-img qemu-io; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz: $tool not found (scripts/setup.sh installs it)" >&2
    exit 1
  fi
done

cmake -S tests/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "${RPFS_JOBS:-2}" >/dev/null

# Seeds qemu-img writes: descriptors of every kind, sparse and stream
# extents with data, zero grains and holes. Small capacities keep them short.
seeds="$build/seeds"
rm -rf "$seeds"
mkdir -p "$seeds/descriptor" "$seeds/sparse" "$seeds/wire"
cp tests/fuzz/seeds/descriptor/* "$seeds/descriptor/"
cp tests/fuzz/seeds/sparse/* "$seeds/sparse/"
cp tests/fuzz/seeds/wire/* "$seeds/wire/"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q() { qemu-img "$@" >/dev/null; }
for sf in monolithicFlat twoGbMaxExtentFlat twoGbMaxExtentSparse; do
  q create -f vmdk -o subformat=$sf "$tmp/$sf.vmdk" 5G
  cp "$tmp/$sf.vmdk" "$seeds/descriptor/$sf.txt"
done
q create -f vmdk "$tmp/ms.vmdk" 1M
q create -f vmdk -o zeroed_grain=on "$tmp/zg.vmdk" 1M
for f in ms zg; do
  # a partial grain, a zero run, the last (partial) grain: few grains keep the seeds small
  qemu-io -f vmdk -c 'write -P 0x5a 1000 3000' -c 'write -z 256k 64k' -c 'write -P 0xa5 1000000 48576' \
    "$tmp/$f.vmdk" >/dev/null
done
q convert -f vmdk -O vmdk -o subformat=streamOptimized "$tmp/ms.vmdk" "$tmp/so.vmdk"
cp "$tmp/ms.vmdk" "$tmp/zg.vmdk" "$tmp/so.vmdk" "$seeds/sparse/"
dd if="$tmp/ms.vmdk" of="$seeds/descriptor/embedded.txt" bs=512 skip=1 count=20 status=none

# New inputs the fuzzers find accumulate in $build/corpus across runs.
status=0
for target in descriptor_fuzz image_reader_fuzz wire_frame_fuzz; do
  kind=${target%_fuzz}
  [ "$kind" = image_reader ] && kind=sparse
  [ "$kind" = wire_frame ] && kind=wire
  corpus="$build/corpus/$kind"
  mkdir -p "$corpus"
  log="$build/$target.log"
  if "$build/$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/$target-" "$corpus" "$seeds/$kind" \
      >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $target: ${runs:-?} executions in ${secs}s, no crash"
  else
    status=1
    echo "fuzz: $target FAILED; the input that broke it is $build/$target-*; log $log:" >&2
    grep -E "ERROR|SUMMARY|runtime error|deadly signal|Test unit written" "$log" | head -20 >&2 || true
  fi
done
exit $status
