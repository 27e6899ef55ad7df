#!/usr/bin/env bash
# Installs what lifeline needs to build and test, from Debian 12's packages only.
# Idempotent: only packages that are missing are installed. Run as root.
# Usage: scripts/install-deps.sh [--windows]   (--windows adds the MinGW-w64 cross compiler, Wine,
# GoogleTest's sources, which the Windows cross-build compiles, and libgcrypt for MinGW-w64, which it
# links statically for X25519)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev clang-format
  libboost1.81-dev libboost-json1.81-dev libssl-dev libcli11-dev libfmt-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  openssl iproute2 iptables procps socat openssh-client openssh-server redis-server redis-tools
  gnuplot-nox jq
)
if [[ "${1:-}" == "--windows" ]]; then
  packages+=(g++-mingw-w64-x86-64-posix wine wine64 googletest libgcrypt-mingw-w64-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
