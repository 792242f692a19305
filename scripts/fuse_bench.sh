#!/usr/bin/env bash
# FUSE benchmark: fio through an rpfs mount (the live disk's -flat.vmdk),
# through libfuse's own passthrough_ll example, and on the plain file
# system, all in one scratch directory under ${TMPDIR:-/tmp} (same file
# system for the three) and with the same file size and fio jobs:
#
#   seq write  1 MiB  (MB/s)    rand write 4 KiB (IOPS)
#   seq read   1 MiB  (MB/s)    rand read  4 KiB (IOPS)
#
# All jobs: ioengine=psync, one job, queue depth 1; write jobs end with an
# fsync (--end_fsync=1), which fio counts in the job's runtime. Random jobs
# use fio's default fixed seed, so every target sees the same offsets.
# Each job runs on rpfs, passthrough_ll and plain in turn before the next
# job starts, so a change in host load hits all three alike; the order
# rotates from run to run.
#
# Fresh space for every sequential write pass. On the VM this was built on,
# writes into file-system space never written before run at a fraction of
# the speed of writes into space just freed (four 1 GiB `dd conv=fsync`
# files in a row: 1.0 GB/s, 510, 213, 208 MB/s; the same with each file
# deleted before the next: 0.94, 1.1, 0.91 GB/s). rpfs's journal is
# append-only, so a second pass over the same vault writes new space while
# a file rewritten in place reuses its own. So each pass starts from a new
# disk for all three: a new vault for rpfs (the previous one deleted), a
# new file for the others: each then writes into space just freed.
# Targets: rpfs writes >= 1.0x passthrough_ll, rpfs reads >= 0.8x.
#
# Page cache and reads: rpfs keeps the kernel page cache for its live disk
# (no direct_io), and so does passthrough_ll with its default cache=auto.
# The two FUSE file systems are therefore remounted between the write and
# the read phase (and fio invalidates the file before each job), so every
# FUSE read is a round trip to the daemon. The daemons' backing files (the
# vault's journal, passthrough_ll's source file) were just written and are
# still in the host page cache: this container cannot drop the host cache
# (/proc/sys/vm/drop_caches), and --direct=1 would not be fair either
# (passthrough_ll forwards O_DIRECT to its backing file, rpfs does not). To
# match, the plain reads also come from the host page cache
# (--invalidate=0). So the read figures measure the FUSE path and the
# daemon, not the device.
#
# Environment:
#   RPFS_BUILD_DIR            build directory (default build)
#   RPFS_BENCH_FUSE_MIB       file size in MiB (default 1024)
#   RPFS_BENCH_FUSE_RUNTIME   cap in seconds per fio job (default 30)
#   RPFS_BENCH_FUSE_REPEAT    runs of each job per target; the table shows
#                             the median (default 3: on a shared host one
#                             run can be off by 2x)
#   RPFS_BENCH_FUSE_PERF=DIR  also `perf record -g` the rpfs daemon during
#                             each rpfs fio job into DIR/rpfs-<job>-<run>.data
# Exits 0 when it ran, whether or not the targets were met; it prints which.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${RPFS_BUILD_DIR:-build}
mib=${RPFS_BENCH_FUSE_MIB:-1024}
runtime=${RPFS_BENCH_FUSE_RUNTIME:-30}
repeat=${RPFS_BENCH_FUSE_REPEAT:-3}
perf_dir=${RPFS_BENCH_FUSE_PERF:-}

die() { echo "fuse_bench: $*" >&2; exit 1; }
for tool in fio python3 fusermount3 pkg-config cc mountpoint; do
  command -v "$tool" >/dev/null || die "$tool not found (needed for the FUSE benchmark)"
done
pkg-config --exists fuse3 || die "fuse3 development files not found (libfuse3-dev)"
[[ $mib =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FUSE_MIB must be a positive number of MiB"
[[ $runtime =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FUSE_RUNTIME must be a positive number of seconds"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FUSE_REPEAT must be a positive number"
if [ -n "$perf_dir" ]; then
  command -v perf >/dev/null || die "perf not found (RPFS_BENCH_FUSE_PERF is set)"
  mkdir -p "$perf_dir"
  perf_dir=$(cd "$perf_dir" && pwd)
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${RPFS_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi
cmake --build "$build" --target rpfs -j "${RPFS_JOBS:-2}" >/dev/null
rpfs=$root/$build/rpfs
[[ $build = /* ]] && rpfs=$build/rpfs

scratch=$(mktemp -d "${TMPDIR:-/tmp}/rpfs-fuse-bench.XXXXXX")
vault=$scratch/vault
rp_mnt=$scratch/mnt-rpfs
pt_src=$scratch/pt-src
pt_mnt=$scratch/mnt-pt
plain=$scratch/plain
out=$scratch/out
mkdir -p "$rp_mnt" "$pt_src" "$pt_mnt" "$plain" "$out"

rp_pid=""    # rpfs mount daemon
pt_pid=""    # passthrough_ll, run in the foreground as our child
perf_pid=""  # perf record of the rpfs daemon
fio_pid=""   # the running fio job

wait_gone() {  # pid seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

stop_perf() {
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=""
  fi
}

umount_rpfs() {
  if mountpoint -q "$rp_mnt"; then
    fusermount3 -u "$rp_mnt" 2>/dev/null || fusermount3 -uz "$rp_mnt" || true
  fi
  # The daemon syncs the vault and exits once unmounted.
  if [ -n "$rp_pid" ]; then
    wait_gone "$rp_pid" 120 || { kill "$rp_pid" 2>/dev/null || true; wait_gone "$rp_pid" 10 || true; }
    rp_pid=""
  fi
}

umount_pt() {
  if mountpoint -q "$pt_mnt"; then
    fusermount3 -u "$pt_mnt" 2>/dev/null || fusermount3 -uz "$pt_mnt" || true
  fi
  if [ -n "$pt_pid" ]; then
    wait_gone "$pt_pid" 30 || kill "$pt_pid" 2>/dev/null || true
    wait "$pt_pid" 2>/dev/null || true
    pt_pid=""
  fi
}

cleanup() {
  set +e
  if [ -n "$fio_pid" ]; then
    kill "$fio_pid" 2>/dev/null
    wait "$fio_pid" 2>/dev/null
  fi
  stop_perf
  umount_rpfs
  umount_pt
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mount_rpfs() {
  "$rpfs" mount "$vault" "$rp_mnt"
  rp_pid=$(tr -d ' \n' <"$vault/LOCK")
  [[ $rp_pid =~ ^[0-9]+$ ]] || die "no daemon pid in $vault/LOCK"
}

mount_pt() {
  # -f: stay our child, so the pid is known and nothing leaks. Default
  # cache=auto (kernel page cache kept, invalidated on open, as rpfs does
  # for its live disk), no writeback cache (rpfs refuses it too);
  # clone_fd like rpfs's session loop; source= passes through only the
  # scratch directory rather than all of /.
  "$scratch/passthrough_ll" -f -o source="$pt_src" -o clone_fd "$pt_mnt" \
    >/dev/null 2>"$scratch/passthrough_ll.log" &
  pt_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    mountpoint -q "$pt_mnt" && return 0
    kill -0 "$pt_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$scratch/passthrough_ll.log" >&2
  die "passthrough_ll did not mount on $pt_mnt"
}

# --- passthrough_ll, built from the copy Debian ships --------------------
examples=/usr/share/doc/libfuse3-dev/examples
mkdir -p "$scratch/pt-build"
for f in passthrough_ll.c passthrough_helpers.h; do
  if [ -f "$examples/$f" ]; then
    cp "$examples/$f" "$scratch/pt-build/$f"
  elif [ -f "$examples/$f.gz" ]; then
    gunzip -c "$examples/$f.gz" >"$scratch/pt-build/$f"
  else
    die "$examples/$f not found (install libfuse3-dev)"
  fi
done
# shellcheck disable=SC2046
cc -O2 -Wall -o "$scratch/passthrough_ll" "$scratch/pt-build/passthrough_ll.c" \
  $(pkg-config --cflags --libs fuse3) 2>"$scratch/pt-build/cc.log" ||
  { cat "$scratch/pt-build/cc.log" >&2; die "cannot build passthrough_ll"; }

# --- fio -------------------------------------------------------------------
fio_job() {  # target job rep [extra fio args...]
  local target=$1 job=$2 rep=$3
  shift 3
  local rw bs file=${files[$target]}
  case $job in
    seqwrite) rw=write bs=1M ;;
    randwrite) rw=randwrite bs=4k ;;
    seqread) rw=read bs=1M ;;
    randread) rw=randread bs=4k ;;
  esac
  local extra=()
  [[ $rw == *write ]] && extra+=(--end_fsync=1)
  # Plain reads come from the host page cache, like the FUSE daemons' own.
  [ "$target" = plain ] && [[ $rw == *read ]] && extra+=(--invalidate=0)
  if [ "$target" = rpfs ] && [ -n "$perf_dir" ]; then
    perf record -g -o "$perf_dir/rpfs-$job-$rep.data" -p "$rp_pid" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
  fi
  # In the background, so a signal reaches the traps without waiting for fio.
  fio --name="$target-$job" --filename="$file" --size="${mib}M" --rw="$rw" --bs="$bs" \
    --ioengine=psync --numjobs=1 --iodepth=1 --runtime="$runtime" \
    "${extra[@]}" "$@" --output-format=json --output="$out/$target-$job-$rep.json" >/dev/null &
  fio_pid=$!
  wait "$fio_pid" || die "fio $job on $target failed"
  fio_pid=""
  stop_perf
}

new_rpfs_disk() {  # a fresh vault with default settings, one disk of exactly the size
  rm -rf "$vault"
  "$rpfs" init "$vault" >/dev/null
  "$rpfs" --vault "$vault" group create bench >/dev/null
  "$rpfs" --vault "$vault" disk create bench/d0 --size "${mib}M" --group bench >/dev/null
}

phase() {  # job: each target in turn, so load changes on the host hit all alike
  local rep t order
  for ((rep = 1; rep <= repeat; rep++)); do
    # The order rotates with each run, so no target always goes first
    # (or always right after another's end fsync).
    case $((rep % 3)) in
      1) order="rpfs passthrough_ll plain" ;;
      2) order="passthrough_ll plain rpfs" ;;
      0) order="plain rpfs passthrough_ll" ;;
    esac
    if [ "$1" = seqwrite ] && [ "$rep" -gt 1 ]; then
      # Every sequential pass fills a new disk: a fresh vault for rpfs
      # (the last pass's journal deleted), a fresh sparse file for the
      # others. On this kind of host, writes into file-system space that
      # was never written are several times slower than writes into space
      # just freed (see the header), so a journal grown by earlier passes
      # must not be compared with files rewritten in place.
      umount_rpfs
      new_rpfs_disk
      mount_rpfs
      for t in passthrough_ll plain; do
        rm -f "${files[$t]}"
        truncate -s "${mib}M" "${files[$t]}"
      done
    fi
    for t in $order; do
      echo "fuse_bench: $1 $rep/$repeat: $t" >&2
      fio_job "$t" "$1" "$rep"
    done
  done
}

echo "fuse_bench: ${mib} MiB file, scratch $scratch" >&2

new_rpfs_disk
mount_rpfs
# passthrough_ll and plain: a sparse file of the same size, like a new
# disk, so fio writes into it without laying it out first.
truncate -s "${mib}M" "$pt_src/d0-flat.vmdk" "$plain/d0-flat.vmdk"
mount_pt
declare -A files=(
  [rpfs]=$rp_mnt/disks/bench/d0-flat.vmdk
  [passthrough_ll]=$pt_mnt/d0-flat.vmdk
  [plain]=$plain/d0-flat.vmdk
)

phase seqwrite
phase randwrite
# Drop the FUSE page cache of both file systems before reading.
umount_rpfs
mount_rpfs
umount_pt
mount_pt
phase seqread
phase randread
umount_rpfs
umount_pt

# --- table -------------------------------------------------------------------
python3 - "$out" "$mib" "$repeat" "$runtime" <<'EOF'
import json, statistics, sys

out, mib, repeat, runtime = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def load(target, job, rep):
    with open(f"{out}/{target}-{job}-{rep}.json") as f:
        text = f.read()
    # fio may print notes before the JSON object.
    return json.loads(text[text.index("{"):])["jobs"][0]

rows = [  # job, label, direction, metric, target ratio
    ("seqwrite", "seq write 1 MiB", "write", "MB/s", 1.0),
    ("randwrite", "rand write 4 KiB", "write", "IOPS", 1.0),
    ("seqread", "seq read 1 MiB", "read", "MB/s", 0.8),
    ("randread", "rand read 4 KiB", "read", "IOPS", 0.8),
]
targets = ["rpfs", "passthrough_ll", "plain"]

def value(target, job, direction, metric):
    vals = []
    for rep in range(1, repeat + 1):
        d = load(target, job, rep)[direction]
        vals.append(d["bw_bytes"] / 1e6 if metric == "MB/s" else d["iops"])
    return statistics.median(vals)

header = ["figure", "unit", "rpfs", "passthrough_ll", "plain", "rpfs/pt", "target", "result"]
table = [header]
missed = 0
for job, label, direction, metric, goal in rows:
    v = {t: value(t, job, direction, metric) for t in targets}
    ratio = v["rpfs"] / v["passthrough_ll"] if v["passthrough_ll"] else float("inf")
    ok = ratio >= goal
    missed += not ok
    fmt = "{:.0f}" if metric == "IOPS" else "{:.1f}"
    table.append([label, metric] + [fmt.format(v[t]) for t in targets] +
                 [f"{ratio:.2f}x", f">= {goal:.1f}x", "met" if ok else "MISSED"])

widths = [max(len(r[i]) for r in table) for i in range(len(header))]
print()
runs = "1 run" if repeat == 1 else f"median of {repeat} runs"
print(f"FUSE benchmark: fio psync, 1 job, QD1, {mib} MiB file, each job <= {runtime} s, {runs};")
print("writes end with fsync (counted);")
print("reads: FUSE page cache dropped (remount + fio invalidate), backing data in host page cache")
print("(plain reads from host page cache too); MB/s = 10^6 bytes/s")
for i, r in enumerate(table):
    print("  ".join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j]) for j, c in enumerate(r)))
    if i == 0:
        print("  ".join("-" * w for w in widths))
print(f"{len(rows) - missed} of {len(rows)} rpfs targets met")
EOF
