#!/usr/bin/env bash
# Failback and failover benchmark (issue 5), in one scratch directory under
# ${TMPDIR:-/tmp}: the vault, the on-premises file and the baseline's files
# share one file system.
#
# Failback. The on-premises disk: a raw file of RPFS_BENCH_FAILBACK_MIB
# (default 4096) MiB, dense (every byte written) with incompressible bytes
# (AES-CTR of zeros from `openssl enc`: fast, and neither side can skip or
# compress anything). It is imported as bench/d0 and a point P is taken.
# Then RPFS_BENCH_FAILBACK_CHANGED_MIB (default 64) MiB change, in two
# disjoint halves, so failback has to use both sides of its union:
#   - on the source, after P: 1 MiB chunks at scattered MiB offsets,
#     written through the mount's disks/bench/d0-flat.vmdk and the same
#     bytes into the on-premises file (as replication would have it). The
#     group fails over to P, older than these writes (the normal case), so
#     failback must put P's bytes back there;
#   - on the failover branch: random 4 KiB writes at distinct scattered
#     blocks outside those chunks, through disks/bench/d0-flat.vmdk (which
#     now shows the branch), like a guest running at the DR site.
# So exactly the changed MiB differ between the two sides, no block twice.
# Then: sync, unmount, `rpfs reprotect`, and the timed figure:
#   failback   `rpfs failback bench --target bench/d0=ONPREM` (wall clock of
#              the whole command: start, vault open, plan, copy, fdatasync)
#   baseline   `qemu-img convert -f raw -O raw` of the same branch state (an
#              `rpfs export --format raw` of latest, made after failback and
#              not timed) to a new file, then `sync` of that file: a full copy
#              of the disk, what failback costs without change tracking.
# Targets: baseline time / failback time >= 10x; failback's data + metadata
# bytes <= 1.1x the changed bytes (what the script wrote, both halves).
#
# Fairness. Both sides end durable: failback fdatasyncs the on-premises
# file before it returns, the baseline syncs its output. `sync` runs before
# each, so neither pays for earlier dirty pages (the on-premises file's
# generation, the mount's writes). Both read from the page cache: the
# vault's journal is read once right before failback, the export was just
# read by the check; the on-premises file was just written. The baseline
# copies a plain file, not the mount's flat file, so it does not pay for
# FUSE: it is the fastest full copy on this file system, the strict side.
# Correctness is checked, not timed: `cmp` of the on-premises file against
# `rpfs export --format raw` of latest after failback, and failback's
# changed-block count against the blocks the script changed.
#
# Failover. `rpfs failover GROUP --point latest --test` on the 4 GiB disk
# above (dense: the whole disk imported plus the changes) and on a 64 GiB
# disk (`disk create --size 64G`, group big, with RPFS_BENCH_FAILOVER_WRITES
# (default 4096) random 4 KiB writes spread over it through the mount), in
# the same vault, alternating (ABBA), RPFS_BENCH_FAILOVER_REPEAT (default 5)
# runs each; each test branch is cleaned up (not timed) before the next run.
# The figure is the median of what the command prints (the failover
# itself: one small catalog transaction and its fsync, so the device's
# flush latency dominates) and, beside it, the wall clock of the whole
# command (process start and vault open included). Target: O(1) in disk
# size, the two medians within 2x of each other.
#
# Environment:
#   RPFS_BUILD_DIR                   build directory (default build)
#   RPFS_BENCH_FAILBACK_MIB          on-premises disk size in MiB (default 4096)
#   RPFS_BENCH_FAILBACK_CHANGED_MIB  MiB changed, even (default 64)
#   RPFS_BENCH_FAILOVER_GIB          size of the big failover disk (default 64)
#   RPFS_BENCH_FAILOVER_WRITES       4 KiB writes into it (default 4096)
#   RPFS_BENCH_FAILOVER_REPEAT       failover runs per disk (default 5)
# Exits 0 when it ran, whether or not the targets were met; it prints which.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${RPFS_BUILD_DIR:-build}
mib=${RPFS_BENCH_FAILBACK_MIB:-4096}
changed_mib=${RPFS_BENCH_FAILBACK_CHANGED_MIB:-64}
big_gib=${RPFS_BENCH_FAILOVER_GIB:-64}
big_writes=${RPFS_BENCH_FAILOVER_WRITES:-4096}
repeat=${RPFS_BENCH_FAILOVER_REPEAT:-5}

die() { echo "failback_bench: $*" >&2; exit 1; }
for tool in qemu-img openssl python3 fusermount3 mountpoint cmp; do
  command -v "$tool" >/dev/null || die "$tool not found (needed for the failback benchmark)"
done
[[ $mib =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FAILBACK_MIB must be a positive number of MiB"
if ! [[ $changed_mib =~ ^[1-9][0-9]*$ ]] || ((changed_mib % 2)); then
  die "RPFS_BENCH_FAILBACK_CHANGED_MIB must be an even number of MiB"
fi
((changed_mib * 2 <= mib)) || die "RPFS_BENCH_FAILBACK_CHANGED_MIB must be at most half the disk"
[[ $big_gib =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FAILOVER_GIB must be a positive number of GiB"
[[ $big_writes =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FAILOVER_WRITES must be a positive number"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "RPFS_BENCH_FAILOVER_REPEAT must be a positive number"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${RPFS_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi
cmake --build "$build" --target rpfs -j "${RPFS_JOBS:-2}" >/dev/null
rpfs=$root/$build/rpfs
[[ $build = /* ]] && rpfs=$build/rpfs

start=$(date +%s.%N)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/rpfs-failback-bench.XXXXXX")
vault=$scratch/vault
mnt=$scratch/mnt
onprem=$scratch/onprem.raw  # the on-premises disk, failback's target
state=$scratch/latest.raw   # export of latest after failback: check and baseline source
copy=$scratch/copy.raw      # the baseline's output
results=$scratch/results    # figure lines for the table
mkdir -p "$mnt"
: >"$results"
daemon=""

wait_gone() {  # pid seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

umount_rpfs() {
  if mountpoint -q "$mnt"; then
    "$rpfs" umount "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || true
  fi
  # The daemon syncs the vault and exits once unmounted.
  if [ -n "$daemon" ]; then
    wait_gone "$daemon" 120 || { kill "$daemon" 2>/dev/null || true; wait_gone "$daemon" 10 || true; }
    daemon=""
  fi
}

cleanup() {
  set +e
  umount_rpfs
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mount_rpfs() {
  "$rpfs" mount "$vault" "$mnt" >/dev/null
  daemon=$(tr -d ' \n' <"$vault/LOCK")
  [[ $daemon =~ ^[0-9]+$ ]] || die "no daemon pid in $vault/LOCK"
}

r() { "$rpfs" --vault "$vault" "$@"; }

# wall SECONDS_VAR CMD...: runs CMD, its stdout to $scratch/last.out, and
# stores its wall-clock seconds in SECONDS_VAR.
import_s="" failback_s="" baseline_s="" secs=""
wall() {
  local var=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" >"$scratch/last.out"
  t1=$(date +%s.%N)
  printf -v "$var" '%s' "$(python3 -c "print($t1 - $t0)")"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "failback_bench: ${mib} MiB disk, ${changed_mib} MiB changed, scratch $scratch," \
  "load $load_before" >&2

# --- the on-premises disk and the vault ----------------------------------------
echo "failback_bench: writing the ${mib} MiB on-premises file" >&2
openssl enc -aes-128-ctr -pbkdf2 -iter 1 -nosalt -pass pass:rpfs-failback-bench -in /dev/zero \
  2>/dev/null | head -c "$((mib << 20))" >"$onprem" || true
[ "$(stat -c %s "$onprem")" = "$((mib << 20))" ] || die "could not write $onprem"
r init "$vault" >/dev/null
r group create bench >/dev/null
r group create big >/dev/null
echo "failback_bench: importing it" >&2
wall import_s r disk import bench/d0 "$onprem" --group bench
r disk create big/d0 --size "${big_gib}G" --group big >/dev/null
r point create bench --label before-changes >/dev/null

# --- changes on both sides of the failover --------------------------------------------
# writes.py MODE FILE...: source: 1 MiB chunks into every FILE (the mount's
# flat file and the on-premises file); branch: 4 KiB blocks into FILE
# outside the source's chunks; big: 4 KiB blocks into the big disk.
# Offsets come from a fixed seed; every FILE is fsynced.
cat >"$scratch/writes.py" <<'EOF'
import os, random, sys
mode, mib, changed_mib, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
paths = sys.argv[5:]
MiB, BLK = 1 << 20, 4096
rng = random.Random(5)
chunks = rng.sample(range(mib), changed_mib // 2)  # source side, MiB indexes
fds = [os.open(p, os.O_WRONLY) for p in paths]
if mode == "source":
    for c in chunks:
        data = os.urandom(MiB)
        for fd in fds:
            os.pwrite(fd, data, c * MiB)
elif mode == "branch":
    taken = set(chunks)
    blocks, want = set(), (changed_mib // 2) * MiB // BLK
    while len(blocks) < want:
        b = rng.randrange(mib * MiB // BLK)
        if b * BLK // MiB not in taken:
            blocks.add(b)
    for b in sorted(blocks, key=lambda _: rng.random()):
        os.pwrite(fds[0], os.urandom(BLK), b * BLK)
elif mode == "big":
    size = os.fstat(fds[0]).st_size
    for _ in range(count):
        os.pwrite(fds[0], os.urandom(BLK), rng.randrange(size // BLK) * BLK)
    os.pwrite(fds[0], os.urandom(BLK), size - BLK)
for fd in fds:
    os.fsync(fd)
    os.close(fd)
EOF
mount_rpfs
echo "failback_bench: $((changed_mib / 2)) MiB on the source, ${big_writes} writes on the big disk" >&2
python3 "$scratch/writes.py" source "$mib" "$changed_mib" 0 "$mnt/disks/bench/d0-flat.vmdk" "$onprem"
python3 "$scratch/writes.py" big "$mib" "$changed_mib" "$big_writes" "$mnt/disks/big/d0-flat.vmdk"
r failover bench --point before-changes --name bench-failover >"$scratch/failover.out"
echo "failback_bench: $((changed_mib / 2)) MiB on the failover branch" >&2
python3 "$scratch/writes.py" branch "$mib" "$changed_mib" 0 "$mnt/disks/bench/d0-flat.vmdk"
umount_rpfs
r reprotect bench >"$scratch/reprotect.out"

# --- failback against a full copy ----------------------------------------------------
cat "$vault"/journal/* >/dev/null  # the vault in the page cache, like the baseline's source
sync
echo "failback_bench: failback" >&2
wall failback_s r failback bench --target "bench/d0=$onprem"
cp "$scratch/last.out" "$scratch/failback.out"

echo "failback_bench: checking the result (export of latest, cmp)" >&2
r export bench/d0 "$state" --format raw >/dev/null
cmp "$onprem" "$state" || die "the on-premises file differs from rpfs export of latest after failback"

sync  # cmp just read $state: it is in the page cache
echo "failback_bench: baseline: qemu-img convert of the same state" >&2
# shellcheck disable=SC2016  # $1 and $2 are the inner shell's
wall baseline_s sh -c 'qemu-img convert -f raw -O raw "$1" "$2" && sync "$2"' sh "$state" "$copy"
rm -f "$copy" "$state"

# --- failover: 4 GiB (dense) against 64 GiB ---------------------------------------------
for ((rep = 1; rep <= repeat; rep++)); do
  order="bench big"
  ((rep % 2)) || order="big bench"  # ABBA: neither disk always goes first
  for g in $order; do
    echo "failback_bench: test failover $g $rep/$repeat" >&2
    wall secs r failover "$g" --point latest --test --name "$g-t$rep"
    ms=$(sed -n 's/.* in \([0-9.]*\) ms$/\1/p' "$scratch/last.out")
    [ -n "$ms" ] || die "no 'in X ms' in the output of rpfs failover: $(cat "$scratch/last.out")"
    echo "failover $g $ms $secs" >>"$results"
    r failover cleanup "$g-t$rep" >/dev/null
  done
done

# --- table ------------------------------------------------------------------------
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
total_s=$(python3 -c "print($(date +%s.%N) - $start)")
python3 - "$scratch" "$mib" "$changed_mib" "$big_gib" "$big_writes" "$repeat" \
  "$import_s" "$failback_s" "$baseline_s" "$load_before" "$load_after" "$total_s" <<'EOF'
import re, statistics, sys
(scratch, mib, changed_mib, big_gib, big_writes, repeat, import_s, failback_s, baseline_s,
 load_before, load_after, total_s) = sys.argv[1:]
mib, changed_mib, repeat = int(mib), int(changed_mib), int(repeat)
failback_s, baseline_s = float(failback_s), float(baseline_s)
out = open(f"{scratch}/failback.out").read()
m = re.search(r"(\d+) changed blocks; wrote (\d+) data bytes \+ (\d+) metadata bytes to disks "
              r"of (\d+) bytes \(([\d.]+)%\) in ([\d.]+) s", out)
if not m:
    sys.exit("failback_bench: cannot parse rpfs failback's output: " + out)
blocks, data, meta, disk, _, inner_s = m.groups()
blocks, data, meta, disk, inner_s = int(blocks), int(data), int(meta), int(disk), float(inner_s)
changed = changed_mib << 20
want_blocks = changed // 4096
speed = baseline_s / failback_s
written = (data + meta) / changed
ok_speed, ok_bytes = speed >= 10, written <= 1.1
rp = open(f"{scratch}/reprotect.out").read().strip()
print()
print(f"Failback benchmark: {mib} MiB raw disk (dense, incompressible), {changed_mib} MiB changed: "
      f"{changed_mib // 2} MiB as 1 MiB chunks on the source after the failover point, "
      f"{changed_mib // 2} MiB as 4 KiB writes on the failover branch; load average before "
      f"{load_before}, after {load_after}")
print(f"  import of the disk (not a target)      {float(import_s):8.2f} s")
print(f"  reprotect said: {rp.splitlines()[0] if rp else '?'}")
print(f"  failback (wall clock of the command)   {failback_s:8.2f} s   (rpfs reports {inner_s:.2f} s)")
print(f"  baseline: qemu-img convert + sync      {baseline_s:8.2f} s")
print(f"  speed (baseline / failback)            {speed:8.1f}x   target >= 10x   "
      f"{'MET' if ok_speed else 'MISSED'}")
print(f"  changed blocks: failback {blocks}, written by the script {want_blocks}"
      f"{'' if blocks == want_blocks else '   (DIFFERENT)'}")
print(f"  failback wrote {data} data + {meta} metadata bytes = {written:.3f}x the {changed} "
      f"changed bytes   target <= 1.1x   {'MET' if ok_bytes else 'MISSED'}")
print(f"  result: on-premises file identical to rpfs export of latest (cmp)")

runs = {}
for line in open(f"{scratch}/results"):
    _, g, ms, secs = line.split()
    runs.setdefault(g, []).append((float(ms), float(secs)))
ms = {g: statistics.median(v[0] for v in runs[g]) for g in runs}
wall = {g: statistics.median(v[1] for v in runs[g]) for g in runs}
ratio = max(ms.values()) / min(ms.values()) if min(ms.values()) > 0 else float("inf")
ok_o1 = ratio <= 2
print()
print(f"Failover benchmark: rpfs failover --point latest --test, median of {repeat} runs each")
for g, label in (("bench", f"{mib / 1024:g} GiB disk (dense)"),
                 ("big", f"{big_gib} GiB disk ({big_writes} 4 KiB writes)")):
    print(f"  {label:<38} {ms[g]:8.3f} ms   (whole command {wall[g] * 1000:.0f} ms)")
print(f"  ratio (slower / faster)                {ratio:8.2f}x   target <= 2x   "
      f"{'MET' if ok_o1 else 'MISSED'}")
for g in ("bench", "big"):
    print(f"    {g} runs, ms (whole command s): " +
          ", ".join(f"{v[0]:.3f} ({v[1]:.3f})" for v in runs[g]))
print()
print(f"{ok_speed + ok_bytes + ok_o1} of 3 targets met; total run time {float(total_s):.0f} s")
EOF
