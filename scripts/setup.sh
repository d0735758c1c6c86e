#!/usr/bin/env bash
# Installs what nfconform needs on a fresh Debian 12 machine: the kernel lab's tools from Debian (python3
# for the lab agent, chromium for the HTML pages' test), checks Node.js against package.json's
# "engines", installs the npm packages and builds dist/ (bin/nfconform.js runs it). Idempotent. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the HTML pages' browser test (test/browser) opens them headless
PKGS=(iptables iproute2 conntrack nftables socat iputils-ping nfacct ipset procps util-linux python3 chromium)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js: the minimum is package.json's engines.node (">=X.Y"); Debian 12's own nodejs is 18.
need=$(sed -n 's/^ *"node": *">=\([0-9.]*\)".*/\1/p' package.json | head -1)
have=$(node -p 'process.versions.node' 2>/dev/null || true)
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
  echo "setup: nfconform needs Node.js >= $need, found ${have:+v$have}${have:-no node on PATH}." >&2
  echo "setup: install Node.js 20 (>= $need) or 22 LTS, e.g. 'nvm install 22', or the Node.js project's" >&2
  echo "setup: Debian packages (NodeSource); Debian 12's own 'nodejs' package is 18, too old. Then re-run this script." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund # its "prepare" script builds dist/
fi
# dist/ is current when its stamp is newer than every file under src/ (bin/dist-current.js)
node --input-type=module -e "import { distIsCurrent } from './bin/dist-current.js'; process.exit(distIsCurrent('.') ? 0 : 1)" \
  || npm run build
