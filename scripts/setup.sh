#!/usr/bin/env bash
# Installs the Debian packages rpfs builds and tests with; only what is
# missing, so a second run is quick. Needs root (or sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libfuse3-dev fuse3 liblmdb-dev lmdb-utils libzstd-dev libssl-dev zlib1g-dev liburing-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev
  qemu-utils fio e2fsprogs
  # libFuzzer targets of the image readers (scripts/fuzz.sh): clang and its runtime
  clang libclang-rt-14-dev
  # network namespaces, veth pairs and tc tbf (the replication lag test)
  iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
