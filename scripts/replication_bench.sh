#!/usr/bin/env bash
# Replication benchmark (issue 8, acceptance 7), over loopback TLS, in one run:
#
# 1. Throughput. A source vault's disk bench/d0 of RPFS_BENCH_REPL_MIB
#    (default 2048) MiB is filled through the mount with 1 MiB writes of
#    data that compresses about 2:1 (fio --buffer_compress_percentage=50),
#    as guest data often does; the source stores it as zstd frames. Then
#    `rpfs replicate --once` ships it to `rpfs serve` on 127.0.0.1 (zstd
#    frames on the wire, TLS 1.3), the target applying and fsyncing every
#    batch. Figure: applied MB/s = disk bytes / seconds. Goal: >= 270 MB/s
#    (5x ASR's 54 MB/s per-VM churn limit). Baseline in the same run: the
#    same bytes written as a plain file with dd (1 MiB blocks, fsync) on the
#    same file system, i.e. what the target's disk takes without rpfs.
#
# 2. Lag. The source mounted again, `rpfs replicate` following it (--json:
#    one status line a second with lag_ms, the age of the newest write the
#    target holds while newer ones wait), fio writing a steady 54 MB/s of
#    the same kind of data for RPFS_BENCH_REPL_SECONDS (default 60) s.
#    Figure: p99 (and max) of the lag samples. Goal: p99 < 5 s.
#
# Everything lives in a scratch directory under ${TMPDIR:-/tmp}, removed
# afterwards. A quiet machine gives figures worth quoting.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RPFS_BUILD_DIR:-build}
mib=${RPFS_BENCH_REPL_MIB:-2048}
seconds=${RPFS_BENCH_REPL_SECONDS:-60}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${RPFS_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi
cmake --build "$build" --target rpfs -j "${RPFS_JOBS:-2}" >/dev/null
rpfs=$(realpath "$build/rpfs")
for tool in fio python3; do
  command -v $tool >/dev/null || { echo "replication_bench: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/rpfs-repl-bench.XXXXXX")
src=$scratch/src dst=$scratch/dst mnt=$scratch/mnt
mkdir -p "$mnt"
serve_pid= repl_pid=
cleanup() {
  [ -n "$repl_pid" ] && kill "$repl_pid" 2>/dev/null || true
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  fusermount3 -u "$mnt" 2>/dev/null || true
  sleep 0.5
  rm -rf "$scratch"
}
trap cleanup EXIT
wait_unlocked() {  # vault
  for _ in $(seq 200); do
    if flock -n "$1/LOCK" true 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "replication_bench: $1 stays locked" >&2; exit 1
}

echo "target pass" > "$scratch/dst.pw"
"$rpfs" init "$src" >/dev/null
"$rpfs" init "$dst" --passphrase-file "$scratch/dst.pw" >/dev/null
"$rpfs" --vault "$src" group create bench --crash-every 0s --app-every 0s >/dev/null
"$rpfs" --vault "$src" disk create bench/d0 --size "$((mib * 2))M" --group bench >/dev/null
"$rpfs" mount "$src" "$mnt" --compact-every 0
flat=$mnt/disks/bench/d0-flat.vmdk
fio --name=fill --filename="$flat" --rw=write --bs=1M --size="${mib}M" --ioengine=psync \
  --buffer_compress_percentage=50 --refill_buffers --end_fsync=1 >/dev/null
"$rpfs" umount "$mnt"
wait_unlocked "$src"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$rpfs" --vault "$dst" serve --listen "127.0.0.1:$port" >"$scratch/serve.out" 2>"$scratch/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q serving "$scratch/serve.out" 2>/dev/null && break; sleep 0.1; done

sync
start=$(date +%s.%N)
"$rpfs" --vault "$src" replicate bench --to "127.0.0.1:$port" --target-passphrase-file "$scratch/dst.pw" \
  --once >"$scratch/once.out"
end=$(date +%s.%N)
repl_s=$(python3 -c "print($end - $start)")
wire=$(sed -n 's/.* of disk data as \(.*\) on the wire.*/\1/p' "$scratch/once.out")

# Baseline: the same bytes as a plain file, on the same file system.
sync
start=$(date +%s.%N)
dd if=/dev/zero of="$scratch/plain" bs=1M count="$mib" conv=fsync status=none
end=$(date +%s.%N)
plain_s=$(python3 -c "print($end - $start)")
rm -f "$scratch/plain"
python3 - "$mib" "$repl_s" "$plain_s" "$wire" <<'PY'
import sys
mib, repl, plain, wire = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
mbs = mib * 1048576 / repl / 1e6
base = mib * 1048576 / plain / 1e6
print(f"replication throughput: {mib} MiB applied in {repl:.2f} s = {mbs:.0f} MB/s "
      f"({wire} on the wire); goal >= 270 MB/s: {mbs / 270:.2f}x "
      f"({'met' if mbs >= 270 else 'MISSED'})")
print(f"  baseline, a plain file write of the same size (dd, fsync): {base:.0f} MB/s; rpfs/plain = {mbs / base:.2f}x")
PY

# 2. Lag while the source takes a steady 54 MB/s.
"$rpfs" mount "$src" "$mnt" --compact-every 0
"$rpfs" --vault "$src" replicate bench --to "127.0.0.1:$port" --target-passphrase-file "$scratch/dst.pw" \
  --json >"$scratch/follow.json" 2>"$scratch/follow.err" &
repl_pid=$!
sleep 2
fio --name=steady --filename="$flat" --rw=randwrite --bs=256k --size="${mib}M" --ioengine=psync \
  --rate=54m --time_based --runtime="$seconds" --buffer_compress_percentage=50 --refill_buffers \
  --fsync=16 >/dev/null
sleep 3
kill "$repl_pid" 2>/dev/null || true
wait "$repl_pid" 2>/dev/null || true
repl_pid=
python3 - "$scratch/follow.json" "$seconds" <<'PY'
import json, sys
lags = []
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if "lag_ms" in j and j.get("state") == "following":
        lags.append(j["lag_ms"] / 1000.0)
if len(lags) < 10:
    print(f"replication lag: only {len(lags)} samples: no figure"); sys.exit(1)
lags.sort()
p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
print(f"replication lag at a steady 54 MB/s for {sys.argv[2]} s: {len(lags)} samples, "
      f"median {lags[len(lags)//2]:.2f} s, p99 {p99:.2f} s, max {lags[-1]:.2f} s; "
      f"goal p99 < 5 s ({'met' if p99 < 5 else 'MISSED'})")
PY
