#!/bin/bash
# Produces the tool-made rulesets of suites/realworld/ (sources.json says which) with real tools from Debian's
# packages (ufw, ferm, shorewall, apf-firewall, arno-iptables-firewall, firewalld, dbus-daemon), each run
# confined to a throw-away network and mount namespace (unshare -n -m): their configuration is a copy
# bind-mounted over /etc/..., and only that namespace's rules change. The result is `iptables-save` of the
# namespace (both backends where the tool uses iptables-legacy), with no `# Generated`/`# Completed` lines.
# The header naming tool, package and licence is added by the corpus's maintainer when the file is added.
# usage (root): bash scripts/realworld-generate.sh TOOL NAME [OUT_DIR]   e.g. ufw web, ferm dsl_router,
#   shorewall two-interfaces, apf server, arno nat-router, firewalld gateway, firewalld-nft gateway (the nftables
#   backend, firewalld's default: `nft list ruleset` of the namespace), tailscale subnet-router
set -euo pipefail
tool=$1 name=$2 out=${3:-/tmp/realworld-generated}
mkdir -p "$out"
work=$(mktemp -d)
here=$(realpath "$0")
if [ "${INSIDE:-}" != 1 ]; then
  INSIDE=1 WORK=$work OUT=$out exec unshare -n -m bash "$here" "$tool" "$name" "$out"
fi
work=$WORK
save() { # both backends; the tools here each use one of them
  (iptables-nft-save; iptables-legacy-save) 2>/dev/null | grep -v '^# \(Generated\|Completed\|Warning\)' >"$OUT/$tool-$name.rules"
  echo "$OUT/$tool-$name.rules"
}
link() { # NAME ADDR [GATEWAY]: a veth end standing for a host interface (its peer stays here, unused)
  ip link add "$1" type veth peer name "p$1"
  ip link set "$1" up; ip link set "p$1" up
  ip addr add "$2" dev "$1"
  [ -n "${3:-}" ] && ip route add default via "$3" dev "$1"
  return 0
}
ip link set lo up
case "$tool" in
  ufw)
    mkdir -p "$work/etc" "$work/default"
    cp -a /etc/ufw/. "$work/etc/"; : >"$work/etc/sysctl.conf"
    sed 's/^IPV6=.*/IPV6=no/' /etc/default/ufw >"$work/default/ufw"
    mount --bind "$work/etc" /etc/ufw; mount --bind "$work/default/ufw" /etc/default/ufw
    case "$name" in
      default) cmds=("allow 22/tcp") ;;
      web) cmds=("allow 80/tcp" "allow 443/tcp" "limit 22/tcp" "allow from 10.0.0.0/8 to any port 9090 proto tcp") ;;
      reject) cmds=("default reject incoming" "allow proto udp from 192.168.1.0/24 to any port 53"
        "allow in on eth1 to any port 8080 proto tcp" "deny from 203.0.113.0/24") ;;
      router) cmds=("default allow routed" "route deny in on eth0 out on eth1 to 10.8.0.0/24 port 9090 proto tcp" "allow 8080") ;;
      logging) cmds=("logging high" "allow log 8080/tcp" "deny log 9090/udp") ;;
      *) echo "ufw: unknown $name" >&2; exit 2 ;;
    esac
    for c in "${cmds[@]}"; do read -ra a <<<"$c"; ufw "${a[@]}" >/dev/null; done
    ufw --force enable >/dev/null
    iptables-save | grep -v '^# \(Generated\|Completed\)' >"$OUT/$tool-$name.rules"; echo "$OUT/$tool-$name.rules" ;;
  ferm)
    ferm --domain ip "/usr/share/doc/ferm/examples/$name.ferm"; save ;;
  shorewall)
    mkdir -p "$work/etc" "$work/var"
    cp -a /etc/shorewall/. "$work/etc/"
    for f in "/usr/share/doc/shorewall/examples/$name"/*; do
      b=$(basename "$f"); case $b in *.annotated | README.txt | systemd) ;; *) cp "$f" "$work/etc/$b" ;; esac
    done
    sed -i 's/^STARTUP_ENABLED=.*/STARTUP_ENABLED=Yes/' "$work/etc/shorewall.conf"
    mount --bind "$work/etc" /etc/shorewall; mount --bind "$work/var" /var/lib/shorewall
    link eth0 203.0.113.10/24 203.0.113.1; link eth1 192.168.1.1/24; link eth2 10.10.10.1/24
    shorewall start >"$work/log" 2>&1 || { tail -20 "$work/log"; exit 1; }
    save ;;
  apf)
    mkdir -p "$work/etc"; cp -a /etc/apf-firewall/. "$work/etc/"
    sed -i -e 's/^SET_MONOKERN=.*/SET_MONOKERN="1"/' -e 's/^DEVEL_MODE=.*/DEVEL_MODE="0"/' \
      -e 's/^IFACE_IN=.*/IFACE_IN="eth0"/' -e 's/^IFACE_OUT=.*/IFACE_OUT="eth0"/' \
      -e 's/^SYSCTL_\([A-Z]*\)=.*/SYSCTL_\1="0"/' -e 's/^IG_TCP_CPORTS=.*/IG_TCP_CPORTS="22,80,443,8080"/' \
      -e 's/^IG_UDP_CPORTS=.*/IG_UDP_CPORTS="53"/' "$work/etc/conf.apf"
    mount --bind "$work/etc" /etc/apf-firewall
    link eth0 203.0.113.10/24 203.0.113.1
    apf -s >"$work/log" 2>&1 || tail -20 "$work/log"
    save ;;
  arno)
    mkdir -p "$work/etc"; cp -a /etc/arno-iptables-firewall/. "$work/etc/"
    printf '%s\n' 'EXT_IF="eth0"' 'EXT_IF_DHCP_IP=0' 'OPEN_TCP="22 80 443"' 'OPEN_UDP="1194"' 'INT_IF="eth1"' 'NAT=1' \
      'INTERNAL_NET="192.168.1.0/24"' 'NAT_INTERNAL_NET="192.168.1.0/24"' 'OPEN_ICMP=1' 'IPV6_SUPPORT=0' \
      >"$work/etc/conf.d/00debconf.conf"
    mount --bind "$work/etc" /etc/arno-iptables-firewall
    link eth0 203.0.113.10/24 203.0.113.1; link eth1 192.168.1.1/24
    arno-iptables-firewall start >"$work/log" 2>&1 || tail -20 "$work/log"
    save ;;
  firewalld | firewalld-nft)
    backend=iptables; [ "$tool" = firewalld-nft ] && backend=nftables
    mkdir -p "$work/etc" "$work/dbus"; cp -a /etc/firewalld/. "$work/etc/"
    sed -i -e "s/^FirewallBackend=.*/FirewallBackend=$backend/" -e 's/^IPv6_rpfilter=.*/IPv6_rpfilter=no/' "$work/etc/firewalld.conf"
    mount --bind "$work/etc" /etc/firewalld; mkdir -p /run/dbus; mount --bind "$work/dbus" /run/dbus
    link eth0 203.0.113.10/24 203.0.113.1; link eth1 192.168.1.1/24
    case "$name" in
      workstation) cmds=("--zone=public --change-interface=eth0") ;;
      server) cmds=("--zone=public --change-interface=eth0" "--zone=public --add-service=http" "--zone=public --add-port=8080/tcp"
        "--zone=public --add-rich-rule=rule family=ipv4 source address=198.51.100.0/24 port port=9090 protocol=tcp reject") ;;
      gateway) cmds=("--zone=external --change-interface=eth0" "--zone=internal --change-interface=eth1"
        "--zone=external --add-forward-port=port=8080:proto=tcp:toport=9090:toaddr=192.168.1.2" "--zone=internal --add-service=dns") ;;
      *) echo "firewalld: unknown $name" >&2; exit 2 ;;
    esac
    # its own system bus and firewalld, both ended by their process ids when done
    dbus-daemon --system --nofork --nopidfile & dbus=$!
    sleep 0.3
    firewalld --nofork --nopid >"$work/log" 2>&1 & fw=$!
    for _ in $(seq 1 60); do firewall-cmd --state >/dev/null 2>&1 && break; sleep 0.5; done
    for c in "${cmds[@]}"; do
      read -ra a <<<"${c%%=rule *}"; [[ "$c" == *"=rule "* ]] && a[-1]="${a[-1]}=rule ${c#*=rule }"
      firewall-cmd "${a[@]}" >/dev/null
    done
    if [ "$tool" = firewalld-nft ]; then
      nft list ruleset >"$OUT/$tool-$name.nft"; echo "$OUT/$tool-$name.nft"
    else
      iptables-save | grep -v '^# \(Generated\|Completed\)' >"$OUT/$tool-$name.rules"; echo "$OUT/$tool-$name.rules"
    fi
    kill "$fw"; sleep 1; kill "$dbus" ;;
  tailscale)
    # the IPv4 commands of tailscale's util/linuxfw/iptables_runner.go for a subnet router on tailscale0
    I=iptables
    $I -t filter -N ts-input; $I -t filter -N ts-forward; $I -t nat -N ts-postrouting
    $I -t filter -I INPUT 1 -j ts-input; $I -t filter -I FORWARD 1 -j ts-forward; $I -t nat -I POSTROUTING 1 -j ts-postrouting
    $I -t filter -A ts-input -i tailscale0 -j ACCEPT
    $I -t filter -A ts-forward -i tailscale0 -j MARK --set-mark 0x40000/0xff0000
    $I -t filter -A ts-forward -m mark --mark 0x40000/0xff0000 -j ACCEPT
    $I -t filter -A ts-forward -o tailscale0 -s 100.64.0.0/10 -j DROP
    $I -t filter -A ts-forward -o tailscale0 -j ACCEPT
    $I -t filter -A ts-input ! -i tailscale0 -s 100.115.92.0/23 -j RETURN
    $I -t filter -A ts-input ! -i tailscale0 -s 100.64.0.0/10 -j DROP
    $I -t filter -I ts-input 1 -i lo -s 100.101.102.103 -j ACCEPT
    $I -t filter -A ts-input -p udp --dport 41641 -j ACCEPT
    $I -t nat -A ts-postrouting -m mark --mark 0x40000/0xff0000 -j MASQUERADE
    $I -t filter -I ts-forward 4 -o tailscale0 -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP
    iptables-save | grep -v '^# \(Generated\|Completed\)' >"$OUT/$tool-$name.rules"; echo "$OUT/$tool-$name.rules" ;;
  *) echo "unknown tool $tool" >&2; exit 2 ;;
esac
