#!/usr/bin/env bash
# Compaction benchmark (issue 6): foreground random 4 KiB write IOPS through
# the mount while a compaction pass runs, against the same with the vault
# idle, in one run. Target: compacting / idle >= 0.7.
#
# Setup, in a scratch directory under ${TMPDIR:-/tmp}: a vault with 16 MiB
# segments, group bench with a 1-second retention window and no scheduled
# points, disk bench/d0 of RPFS_BENCH_COMPACT_MIB (default 1024) MiB, mounted
# with --compact-every 0 (this script starts the passes itself). Fill: the
# whole disk sequentially, then random 64 KiB overwrites of half of it, both
# incompressible (fio's random buffers), so the sealed segments are left
# partly live and a pass has to copy, not only delete.
#
# Measured: fio psync QD1 random 4 KiB writes over the disk for
# RPFS_BENCH_COMPACT_SECONDS (default 20) s, four runs alternating
# idle / compacting / idle / compacting; a compacting run has
# `rpfs prune --max-live 0.9 --compact-rate 64M` (the daemon's default rate)
# running back to back in the daemon for its whole length. The figure is
# the mean IOPS of the compacting runs over the mean of the idle ones; the
# script also prints how many passes ran and what they copied and reclaimed,
# so a run in which compaction did nothing is visible as such.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RPFS_BUILD_DIR:-build}
mib=${RPFS_BENCH_COMPACT_MIB:-1024}
seconds=${RPFS_BENCH_COMPACT_SECONDS:-20}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${RPFS_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi
cmake --build "$build" --target rpfs -j "${RPFS_JOBS:-2}" >/dev/null
rpfs=$(realpath "$build/rpfs")
command -v fio >/dev/null || { echo "compaction_bench: fio is missing (scripts/setup.sh)" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/rpfs-compact-bench.XXXXXX")
vault=$scratch/vault mnt=$scratch/mnt
mkdir -p "$mnt"
cleanup() {
  fusermount3 -u "$mnt" 2>/dev/null || true
  sleep 0.5
  rm -rf "$scratch"
}
trap cleanup EXIT

"$rpfs" init "$vault" --segment-size 16M >/dev/null
"$rpfs" --vault "$vault" group create bench --retention 1s --crash-every 0s --app-every 0s >/dev/null
"$rpfs" --vault "$vault" disk create bench/d0 --size "${mib}M" --group bench >/dev/null
"$rpfs" mount "$vault" "$mnt" --compact-every 0
flat=$mnt/disks/bench/d0-flat.vmdk

fio_run() {  # name rw bs size|runtime extra...
  local name=$1 rw=$2 bs=$3
  shift 3
  fio --name="$name" --filename="$flat" --size="${mib}M" --rw="$rw" --bs="$bs" --ioengine=psync \
    --iodepth=1 --numjobs=1 --refill_buffers --end_fsync=1 "$@" --output-format=json \
    --output="$scratch/$name.json" >/dev/null
}
iops() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' "$1"; }

echo "compaction bench: ${mib} MiB disk, ${seconds} s per run"
fio_run fill-seq write 1M
fio_run fill-half randwrite 64k --io_size=$((mib / 2))M
"$rpfs" --vault "$vault" prune --max-live 0 >/dev/null  # expire points, drop fully dead segments

passes=0 copied=0 reclaimed=0
compact_loop() {
  local log=$scratch/prune.log
  : >"$log"
  while [ ! -e "$scratch/stop" ]; do
    "$rpfs" --vault "$vault" prune --json --max-live 0.9 --compact-rate 64M >>"$log" 2>&1 || break
  done
}

declare -a idle busy
for run in idle1 busy1 idle2 busy2; do
  rm -f "$scratch/stop"
  if [[ $run == busy* ]]; then
    compact_loop &
    loop_pid=$!
    sleep 1  # let the first pass start
  fi
  fio_run "$run" randwrite 4k --time_based --runtime="$seconds"
  if [[ $run == busy* ]]; then
    touch "$scratch/stop"
    wait "$loop_pid"
    read -r p c r < <(python3 - "$scratch/prune.log" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
dec, i, n, c, r = json.JSONDecoder(), 0, 0, 0, 0
while True:
    i = text.find("{", i)
    if i < 0:
        break
    obj, i = dec.raw_decode(text, i)
    n += 1
    c += obj.get("copied_bytes", 0)
    r += obj.get("reclaimed_bytes", 0)
print(n, c, r)
EOF
)
    passes=$((passes + p)) copied=$((copied + c)) reclaimed=$((reclaimed + r))
    busy+=("$(iops "$scratch/$run.json")")
  else
    idle+=("$(iops "$scratch/$run.json")")
  fi
  echo "  $run: $(iops "$scratch/$run.json") IOPS"
done

python3 - "${idle[@]}" "${busy[@]}" "$passes" "$copied" "$reclaimed" <<'EOF'
import sys
a = [float(x) for x in sys.argv[1:5]]
idle, busy = (a[0] + a[1]) / 2, (a[2] + a[3]) / 2
passes, copied, reclaimed = (int(x) for x in sys.argv[5:8])
ratio = busy / idle if idle else 0
print(f"rand write 4 KiB  idle {idle:.0f} IOPS  compacting {busy:.0f} IOPS  {ratio:.2f}x (target >= 0.7x) "
      f"{'met' if ratio >= 0.7 else 'MISSED'}")
print(f"  during the compacting runs: {passes} passes, {copied / 2**20:.0f} MiB copied, "
      f"{reclaimed / 2**20:.0f} MiB reclaimed")
EOF
