#!/bin/bash
# Builds the host shapes of suites/realworld/ in throw-away network namespaces (unshare -n) and
# captures each host's `ip -j -d link`, `ip -j addr` and `ip -j route` as an ip capture file
# (spec/snapshot.md "A topology from ip -j output"). Touches no other namespace. Needs root.
# usage: bash scripts/realworld-capture.sh [OUT_DIR]   (default suites/realworld/topologies)
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then out=$(realpath "${1:-$(dirname "$0")/../suites/realworld/topologies}"); fi
[ "${1:-}" = "--inside" ] || mkdir -p "$out"

# inside the host's namespace: a veth whose other end lives in a second throw-away namespace
pids=()
veth() { # NAME [MASTER]: the other end is eth0 of a namespace of its own (a sleeping unshare -n)
  unshare -n sleep 30 &
  pids+=($!)
  sleep 0.2
  ip link add "$1" type veth peer name eth0 netns "$!"
  [ -n "${2:-}" ] && ip link set "$1" master "$2"
  ip link set "$1" up
}
bridge() { # NAME ADDR
  ip link add "$1" type bridge
  ip addr add "$2" dev "$1"
  ip link set "$1" up
}
uplink() { # NAME ADDR [GATEWAY]
  veth "$1"
  ip addr add "$2" dev "$1"
  [ -n "${3:-}" ] && ip route add default via "$3" dev "$1"
  return 0
}

shape() {
  case "$1" in
    server) uplink eth0 203.0.113.10/24 203.0.113.1 ;;
    docker-host)
      uplink eth0 203.0.113.10/24 203.0.113.1
      bridge docker0 172.17.0.1/16; veth veth0a1b2c3 docker0
      bridge bridge1 192.0.2.1/24; veth veth4d5e6f7 bridge1 ;;
    router)
      uplink eth0 203.0.113.10/24 203.0.113.1
      uplink eth1 192.168.1.1/24
      uplink eth2 10.10.10.1/24 ;;
    dsl-router)
      uplink ppp0 198.51.100.7/24 198.51.100.1
      uplink eth0 192.168.0.1/24
      uplink eth1 192.168.1.1/24 ;;
    libvirt-host)
      uplink eth0 203.0.113.10/24 203.0.113.1
      bridge virbr0 192.168.122.1/24; veth vnet0 virbr0 ;;
    pod) uplink eth0 10.244.1.11/24 10.244.1.1 ;;
    tailscale-router)
      uplink eth0 192.168.1.10/24 192.168.1.1
      uplink tailscale0 100.101.102.103/10 ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}

capture() { # SHAPE
  local shape=$1
  ip link set lo up
  shape "$shape"
  {
    printf '{\n"link": %s,\n"addr": %s,\n"route": %s\n}\n' "$(ip -j -d link show)" "$(ip -j addr show)" "$(ip -j route show table main)"
  } > "$out/$shape.ip.json"
  kill "${pids[@]}"
}

if [ "${1:-}" = "--inside" ]; then
  out=$2; capture "$3"; exit 0
fi
for s in server docker-host router dsl-router libvirt-host pod tailscale-router; do
  unshare -n bash "$0" --inside "$out" "$s"
done
ls -1 "$out"
