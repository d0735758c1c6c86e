#!/usr/bin/env bash
# The Docker lab's daemon and image on a Debian machine (CI, or a developer's box):
#   scripts/docker-lab.sh start   install docker.io + debootstrap if needed, start a dockerd
#                                 that leaves the host's network alone, build the image offline
#   scripts/docker-lab.sh stop    stop the dockerd that `start` started (and only that one)
# The daemon runs with --iptables=false --ip-forward=false --bridge=none: lab containers use
# --network none, and the root namespace's rules and sysctls must not change (README, "Lab rules").
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=/var/run/nfconform-dockerd.pid
case "${1:-}" in
  start)
    missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ ${#missing[@]} -gt 0 ]; then
      echo "docker-lab: installing ${missing[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
      echo "docker-lab: starting dockerd" >&2
      dockerd --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
        --pidfile "$PIDFILE" >/var/log/nfconform-dockerd.log 2>&1 &
      for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
      docker info >/dev/null 2>&1 || { tail -20 /var/log/nfconform-dockerd.log >&2; echo "docker-lab: dockerd did not start" >&2; exit 1; }
    fi
    # (re)build when there is no image, or when it lacks a package of docker/packages.txt (an image
    # built before the list grew)
    img=$(docker images -q 'nfconform-lab' 2>/dev/null | head -1)
    # shellcheck disable=SC2046 # one word a package
    if [ -z "$img" ] || ! docker run --rm --network none "$img" dpkg -s $(cat docker/packages.txt) >/dev/null 2>&1; then
      bash docker/build.sh --offline
    fi
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid=$(cat "$PIDFILE")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      rm -f "$PIDFILE"
      echo "docker-lab: dockerd stopped" >&2
    fi
    ;;
  *) echo "usage: scripts/docker-lab.sh start|stop" >&2; exit 2 ;;
esac
