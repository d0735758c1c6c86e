#!/usr/bin/env bash
# Installs what nfconform needs on a fresh Debian 12 machine: the kernel lab's
# tools from Debian, then the npm packages. Idempotent. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(iptables iproute2 conntrack nftables socat iputils-ping nfacct)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
