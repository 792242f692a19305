#!/usr/bin/env bash
# A short tour of rpfs on a throw-away vault: installs what is missing,
# builds, then creates a group and a disk, writes data, takes recovery
# points, exports one, drills a two-step recovery plan, verifies the vault
# and prints what each step did.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
rpfs=$PWD/${RPFS_BUILD_DIR:-build}/rpfs

work=$(mktemp -d "${TMPDIR:-/tmp}/rpfs-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export RPFS_VAULT=$work/vault

step() { printf '\n$ %s\n' "$*"; "$@"; }

# expect_at IMAGE MIB_OFFSET MIB_COUNT DATA WHAT: the image holds DATA there.
expect_at() {
  if cmp -s <(dd if="$work/$1" bs=1M skip="$2" count="$3" status=none) "$work/$4"; then
    echo "$1 at $2 MiB holds $5 byte for byte"
  else
    echo "MISMATCH: $1 does not hold $5" >&2
    exit 1
  fi
}

echo "== rpfs demo in $work"
step "$rpfs" init "$RPFS_VAULT"
step "$rpfs" group create web --retention 72h --crash-every 5m --app-every 4h
step "$rpfs" disk create iis1/disk0 --size 64M --group web
step "$rpfs" disk list

echo; echo "== replicate some writes: 8 MiB of data at 1 MiB, then a point"
head -c $((8 << 20)) /dev/urandom > "$work/v1.bin"
step "$rpfs" disk write iis1/disk0 "$work/v1.bin" --offset 1M
step "$rpfs" point create web --label before-patch

echo; echo "== more writes overwrite part of it; an app-consistent point follows"
head -c $((2 << 20)) /dev/urandom > "$work/v2.bin"
step "$rpfs" disk write iis1/disk0 "$work/v2.bin" --offset 2M
step "$rpfs" point create web --app --label after-patch
step "$rpfs" point list web

echo; echo "== export the point taken before the overwrite: it still holds the old bytes"
step "$rpfs" export iis1/disk0 --point before-patch --format raw "$work/before.raw"
expect_at before.raw 1 8 v1.bin "the first write"
echo "apparent size $(stat -c %s "$work/before.raw") bytes, allocated $(( $(stat -c %b "$work/before.raw") * 512 )) bytes (sparse)"

step "$rpfs" export iis1/disk0 --point latest-app --format raw "$work/latest.raw"
expect_at latest.raw 2 2 v2.bin "the second write"

echo; echo "== a recovery plan: the database first, then the web tier; a drill (test failover)"
step "$rpfs" group create db
step "$rpfs" disk create sql1/disk0 --size 16M --group db
cat > "$work/shop.json" <<'JSON'
{"steps": [
  {"groups": ["db"], "post": ["echo \"  boot $RPFS_GROUPS from: $RPFS_DISKS\""]},
  {"groups": ["web"], "post": ["echo \"  boot $RPFS_GROUPS from: $RPFS_DISKS\""]}
]}
JSON
step "$rpfs" plan create shop --file "$work/shop.json"
step "$rpfs" plan failover shop --test
step "$rpfs" plan list
step "$rpfs" plan cleanup shop

echo; echo "== check every checksum and every index entry"
step "$rpfs" verify --deep
step "$rpfs" stat
echo; echo "demo done; the vault in $work is removed on exit"
