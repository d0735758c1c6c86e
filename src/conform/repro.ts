// A plain-bash reproducer for a case: ip netns, iptables-restore, socat, ping.
// It needs no nfconform, cleans up after itself, and shows the kernel's behaviour.
import type { TopologySpec } from '../model/index.ts';
import { printRuleset, parseRuleset } from '../model/index.ts';
import { type CaseFile, caseTopology, isApply, isWait } from './case-file.ts';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function reproScript(c: CaseFile): string {
  const topo: TopologySpec = caseTopology(c);
  const ns = (h: string) => `nfr-$$-${h}`;
  const L: string[] = [
    '#!/usr/bin/env bash',
    `# Reproducer for: ${c.name}`,
    '# Plain bash: needs root, iproute2, iptables, conntrack, socat and ping. Cleans up on exit.',
    'set -u',
    `HOSTS=(${topo.hosts.map((h) => h.name).join(' ')})`,
    'cleanup() { for h in "${HOSTS[@]}"; do ip netns pids "nfr-$$-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "nfr-$$-$h" 2>/dev/null; done; }',
    'trap cleanup EXIT INT TERM',
    'set -e',
  ];
  for (const h of topo.hosts) L.push(`ip netns add ${ns(h.name)}`, `ip -n ${ns(h.name)} link set lo up`);
  const made = new Set<string>();
  for (const h of topo.hosts) {
    for (const i of h.ifaces) {
      if (i.bridge) L.push(`ip -n ${ns(h.name)} link add ${i.name} type bridge`);
      else if (i.peer) {
        const key = [`${h.name}/${i.name}`, `${i.peer.host}/${i.peer.iface}`].sort().join('|');
        if (made.has(key)) continue;
        made.add(key);
        L.push(`ip -n ${ns(h.name)} link add ${i.name} type veth peer name ${i.peer.iface} netns ${ns(i.peer.host)}`);
      }
    }
  }
  for (const h of topo.hosts) {
    const s = {
      ip_forward: false,
      rp_filter: 0,
      accept_local: false,
      route_localnet: false,
      bridge_nf_call_iptables: true,
      send_redirects: false,
      accept_redirects: false,
      ...h.sysctls,
    };
    for (const i of h.ifaces) {
      if (i.master)
        L.push(
          `ip -n ${ns(h.name)} link set ${i.name} master ${i.master}`,
          `ip -n ${ns(h.name)} link set ${i.name} type bridge_slave hairpin ${i.hairpin ? 'on' : 'off'}`,
        );
      for (const a of i.addrs ?? []) L.push(`ip -n ${ns(h.name)} addr add ${a} dev ${i.name}`);
    }
    for (const i of h.ifaces) L.push(`ip -n ${ns(h.name)} link set ${i.name} up`);
    for (const r of h.routes ?? [])
      L.push(`ip -n ${ns(h.name)} route add ${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`);
    const x = `ip netns exec ${ns(h.name)} sysctl -qw`;
    L.push(
      `${x} net.ipv4.ip_forward=${Number(s.ip_forward)} net.bridge.bridge-nf-call-iptables=${Number(s.bridge_nf_call_iptables)} || true`,
    );
    for (const i of ['all', 'default', 'lo', ...h.ifaces.map((f) => f.name)]) {
      L.push(
        `${x} net.ipv4.conf.${i}.rp_filter=${i === 'all' ? 0 : s.rp_filter} net.ipv4.conf.${i}.accept_local=${Number(s.accept_local)} net.ipv4.conf.${i}.route_localnet=${Number(s.route_localnet)} net.ipv4.conf.${i}.send_redirects=${Number(s.send_redirects)} net.ipv4.conf.${i}.accept_redirects=${Number(s.accept_redirects)}`,
      );
    }
    // servers: every host answers on TCP/UDP 8080 and 9090 with its name and the addresses it saw
    for (const port of [8080, 9090]) {
      L.push(
        `ip netns exec ${ns(h.name)} socat TCP-LISTEN:${port},fork,reuseaddr SYSTEM:${q(`echo ${h.name} $SOCAT_PEERADDR:$SOCAT_PEERPORT $SOCAT_SOCKADDR:$SOCAT_SOCKPORT`)} >/dev/null 2>&1 & disown`,
      );
      L.push(
        `ip netns exec ${ns(h.name)} socat UDP-RECVFROM:${port},fork,reuseaddr SYSTEM:${q(`echo ${h.name} $SOCAT_PEERADDR:$SOCAT_PEERPORT`)} >/dev/null 2>&1 & disown`,
      );
    }
  }
  const restore = (host: string, text: string, other = false) => {
    const own = c.hosts?.[host]?.backend ?? topo.hosts.find((h) => h.name === host)?.backend ?? 'nft';
    const backend = other ? (own === 'legacy' ? 'nft' : 'legacy') : own;
    let body = text;
    try {
      body = printRuleset(parseRuleset(text));
    } catch {
      /* let iptables judge */
    }
    L.push(
      `echo "== ruleset for ${host} (iptables-${backend}-restore)"`,
      `ip netns exec ${ns(host)} iptables-${backend}-restore <<'RULES' || echo "   iptables-restore refused it (exit $?)"`,
      body.trimEnd(),
      'RULES',
    );
  };
  for (const [h, s] of Object.entries(c.hosts ?? {})) if (s.ruleset) restore(h, s.ruleset);
  // rules in the other backend come second: at equal priority they run first (spec/semantics.md §2.3)
  for (const [h, s] of Object.entries(c.hosts ?? {}))
    if (s.otherBackendRuleset) restore(h, s.otherBackendRuleset, true);
  L.push('sleep 0.3', 'set +e');
  let port = 41000;
  for (const s of c.steps) {
    if (isWait(s)) {
      L.push(`sleep ${s.wait}`);
      continue;
    }
    if (isApply(s)) {
      for (const [h, text] of Object.entries(s.apply)) restore(h, text);
      continue;
    }
    for (let r = 0; r < (s.repeat ?? 1); r++) {
      const sport = s.sport ?? port++;
      const from = ns(s.from);
      L.push(`echo "== probe: ${s.from} ${s.proto} ${s.dst}${s.dport ? `:${s.dport}` : ''}"`);
      if (s.proto === 'icmp') L.push(`ip netns exec ${from} ping -n -c1 -W1 ${s.src ? `-I ${s.src} ` : ''}${s.dst}`);
      else if (s.proto === 'tcp')
        L.push(
          `ip netns exec ${from} socat -T1 - TCP:${s.dst}:${s.dport},sourceport=${sport}${s.src ? `,bind=${s.src}` : ''},connect-timeout=1 </dev/null || echo "   (no answer / refused: exit $?)"`,
        );
      else
        L.push(
          `echo probe | ip netns exec ${from} socat -T1 - ${s.connected === false ? 'UDP-SENDTO' : 'UDP'}:${s.dst}:${s.dport},sourceport=${sport}${s.src ? `,bind=${s.src}` : ''} || echo "   (no answer / refused: exit $?)"`,
        );
    }
  }
  for (const h of topo.hosts)
    L.push(`echo "== conntrack on ${h.name}"`, `ip netns exec ${ns(h.name)} conntrack -L 2>/dev/null`);
  return L.join('\n') + '\n';
}
