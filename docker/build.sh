#!/usr/bin/env bash
# Builds the nfconform lab image and tags it nfconform-lab:iptables-<version>.
#   docker/build.sh            docker build from docker/Dockerfile (needs a registry)
#   docker/build.sh --offline  debootstrap --variant=minbase + docker import (needs
#                              only a Debian mirror; about 60-90 s, ~250 MB)
# Both install docker/packages.txt, so both give the same tag for the same Debian.
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$0")"
REPO=nfconform-lab
offline=0
for a in "$@"; do
  case "$a" in
    --offline) offline=1 ;;
    -h|--help) sed -n 2,6p "$SELF"; exit 0 ;;
    *) echo "docker/build.sh: unknown option $a (use --offline or nothing)" >&2; exit 2 ;;
  esac
done
if ! docker info >/dev/null 2>&1; then
  echo "docker/build.sh: no Docker daemon answers. Start one (e.g. 'dockerd --iptables=false --bridge=none &' as root, or Docker Desktop) and retry." >&2
  exit 2
fi
pkgs=$(paste -sd, packages.txt)

tag_with_version() { # image-id
  local v
  v=$(docker run --rm --network none "$1" iptables --version | sed -n 's/^iptables v\([0-9.]*\).*/\1/p')
  [ -n "$v" ] || { echo "docker/build.sh: could not read the iptables version from the image" >&2; exit 1; }
  docker tag "$1" "$REPO:iptables-$v"
  echo "$REPO:iptables-$v"
}

if [ "$offline" = 0 ]; then
  docker build -t "$REPO:build" .
  tag_with_version "$REPO:build"
  docker rmi "$REPO:build" >/dev/null
  exit 0
fi

command -v debootstrap >/dev/null || { echo "docker/build.sh: debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
# $DEBIAN_MIRROR, else the Debian mirror the machine's apt sources name, else debootstrap's own default.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -shoE '^(URIs:|deb) +[a-z]+://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null \
    | head -1 | awk '{print $2}' || true)
fi
root=$(mktemp -d /var/tmp/nfconform-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "docker/build.sh: debootstrap bookworm from ${mirror:-the default mirror of debootstrap} into $root" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$root" ${mirror:+"$mirror"} >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
id=$(tar -C "$root" -c . | docker import --change 'LABEL org.nfconform.image="lab"' - "$REPO:build")
tag_with_version "$REPO:build"
docker rmi "$REPO:build" >/dev/null
