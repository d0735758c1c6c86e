// A plain-bash reproducer for a case: ip netns, iptables-restore, socat, ping.
// It needs no nfconform, cleans up after itself, and shows the kernel's behaviour.
// It reads the case's plan: the same canonical rulesets, flavors and source ports as every other consumer.
import { commandArgs, STANDARD_SERVERS, type TopologySpec } from '../model/index.ts';
import { plannedLoads, type CaseCommand, type CasePlan, type PlannedRuleset } from './plan.ts';
import { conntrackFilterArgs } from '../lab/kernel-lab.ts';

/** what a repro server answers besides its name: the addresses it saw (socat's environment) */
const SOCAT_SEEN = '$SOCAT_PEERADDR:$SOCAT_PEERPORT $SOCAT_SOCKADDR:$SOCAT_SOCKPORT';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function reproScript(plan: CasePlan): string {
  const topo: TopologySpec = plan.topology;
  const ns = (h: string) => `nfr-$$-${h}`;
  const L: string[] = [
    '#!/usr/bin/env bash',
    `# Reproducer for: ${plan.name}`,
    '# Plain bash: needs root, iproute2, iptables, conntrack, socat and ping. Cleans up on exit.',
    'set -u',
    `HOSTS=(${topo.hosts.map((h) => h.name).join(' ')})`,
    'cleanup() { for h in "${HOSTS[@]}"; do ip netns pids "nfr-$$-$h" 2>/dev/null | xargs -r' +
      ' kill -9 2>/dev/null; ip netns del "nfr-$$-$h" 2>/dev/null; done; }',
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
      arp_ignore: 0,
      arp_announce: 0,
      arp_filter: false,
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
      `${x} net.ipv4.ip_forward=${Number(s.ip_forward)}` +
        ` net.bridge.bridge-nf-call-iptables=${Number(s.bridge_nf_call_iptables)} || true`,
    );
    for (const i of ['all', 'default', 'lo', ...h.ifaces.map((f) => f.name)]) {
      // an interface's own settings over the host's (topology.ts IfaceSysctls)
      const own = h.ifaces.find((f) => f.name === i)?.sysctls ?? {};
      const fwd =
        i === 'all' || i === 'default'
          ? ''
          : ` net.ipv4.conf.${i}.forwarding=${Number(own.forwarding ?? s.ip_forward)}`;
      L.push(
        [
          `${x}${fwd}`,
          `net.ipv4.conf.${i}.rp_filter=${i === 'all' ? 0 : (own.rp_filter ?? s.rp_filter)}`,
          `net.ipv4.conf.${i}.accept_local=${Number(own.accept_local ?? s.accept_local)}`,
          `net.ipv4.conf.${i}.route_localnet=${Number(own.route_localnet ?? s.route_localnet)}`,
          `net.ipv4.conf.${i}.send_redirects=${Number(s.send_redirects)}`,
          `net.ipv4.conf.${i}.accept_redirects=${Number(s.accept_redirects)}`,
          `net.ipv4.conf.${i}.arp_ignore=${own.arp_ignore ?? s.arp_ignore}`,
          `net.ipv4.conf.${i}.arp_announce=${own.arp_announce ?? s.arp_announce}`,
          `net.ipv4.conf.${i}.arp_filter=${Number(own.arp_filter ?? s.arp_filter)}`,
        ].join(' '),
      );
    }
    // servers: every host answers on TCP/UDP 8080 and 9090 with its name and the addresses it saw
    for (const port of new Set(STANDARD_SERVERS.map((s) => s.port))) {
      L.push(
        `ip netns exec ${ns(h.name)} socat TCP-LISTEN:${port},fork,reuseaddr` +
          ` SYSTEM:${q(`echo ${h.name} ${SOCAT_SEEN}`)} >/dev/null 2>&1 & disown`,
      );
      L.push(
        `ip netns exec ${ns(h.name)} socat UDP-RECVFROM:${port},fork,reuseaddr` +
          ` SYSTEM:${q(`echo ${h.name} $SOCAT_PEERADDR:$SOCAT_PEERPORT`)} >/dev/null 2>&1 & disown`,
      );
    }
  }
  const restore = (r: PlannedRuleset) => {
    L.push(
      `echo "== ruleset for ${r.host} (iptables-${r.flavor}-restore)"`,
      `ip netns exec ${ns(r.host)} iptables-${r.flavor}-restore <<'RULES' || echo "  ` +
        ` iptables-restore refused it (exit $?)"`,
      r.kernelText.trimEnd(),
      'RULES',
    );
  };
  // in each host's load order: at equal priority the later-loaded run first (spec/semantics.md §2.3-§2.4)
  const nftLoad = (host: string, text: string) => L.push(...nftLines(`nft ruleset for ${host}`, ns(host), text));
  for (const l of plannedLoads(plan)) {
    if (l.kind === 'xt') restore(l.r);
    else nftLoad(l.r.host, l.r.text);
  }
  L.push('sleep 0.3', 'set +e');
  for (const s of plan.steps) {
    if (s.kind === 'wait') {
      L.push(`sleep ${s.seconds}`);
      continue;
    }
    if (s.kind === 'apply') {
      for (const r of s.rulesets)
        if (r.lang === 'nft') nftLoad(r.host, r.text);
        else restore(r);
      continue;
    }
    if (s.kind === 'command') {
      L.push(...commandLines(s.command, ns, plan.file ?? plan.name));
      continue;
    }
    const { from: host, proto, dst, dport, src } = s.probe;
    for (const sport of s.sports) {
      const from = ns(host);
      L.push(`echo "== probe: ${host} ${proto} ${dst}${dport ? `:${dport}` : ''}"`);
      if (proto === 'icmp') L.push(`ip netns exec ${from} ping -n -c1 -W1 ${src ? `-I ${src} ` : ''}${dst}`);
      else if (proto === 'tcp')
        L.push(
          `ip netns exec ${from} socat -T1 -` +
            ` TCP:${dst}:${dport},sourceport=${sport}${src ? `,bind=${src}` : ''},connect-timeout=1` +
            ` </dev/null || echo "   (no answer / refused: exit $?)"`,
        );
      else
        L.push(
          `echo probe | ip netns exec ${from} socat -T1 -` +
            ` ${s.probe.connected === false ? 'UDP-SENDTO' : 'UDP'}:${dst}:${dport},sourceport` +
            `=${sport}${src ? `,bind=${src}` : ''} || echo "   (no answer / refused: exit $?)"`,
        );
    }
  }
  for (const h of topo.hosts)
    L.push(`echo "== conntrack on ${h.name}"`, `ip netns exec ${ns(h.name)} conntrack -L 2>/dev/null`);
  return L.join('\n') + '\n';
}

/** `nft -f` of a text as shell lines: a here-document whose end marker is no line of the text. */
function nftLines(what: string, netns: string, text: string): string[] {
  const lines = new Set(text.split('\n'));
  let tag = 'RULES';
  for (let n = 1; lines.has(tag); n++) tag = `RULES_${n}`;
  return [
    `echo "== ${what} (nft -f)"`,
    `ip netns exec ${netns} nft -f - <<'${tag}' || echo "   nft refused it (exit $?)"`,
    text.trimEnd(),
    tag,
  ];
}

/** A case's command step as shell lines: every value is a checked address, port, name or iptables argument,
 *  and each is single-quoted. */
function commandLines(c: CaseCommand, ns: (h: string) => string, file: string): string[] {
  if (c.type === 'conntrack')
    return [
      `ip netns exec ${ns(c.host)} conntrack` +
        ` ${(c.match ? ['-D', ...conntrackFilterArgs(c.match)] : ['-F']).map(q).join(' ')}`,
    ];
  if (c.type === 'recent') {
    const line = c.op === 'flush' ? '/' : `${c.op === 'add' ? '+' : '-'}${c.addr}`;
    return [`echo ${q(line)} | ip netns exec ${ns(c.host)} tee ${q(`/proc/net/xt_recent/${c.list}`)} >/dev/null`];
  }
  if (c.type === 'nft') return c.hosts.flatMap((h) => nftLines(`nft commands for ${h.host}`, ns(h.host), h.text));
  return c.hosts.flatMap((h) =>
    h.lines.map(
      (line, i) =>
        `ip netns exec ${ns(h.host)} iptables-${h.flavor} ${commandArgs(line, `${file}#${h.host}`, i + 1)
          .map((t) => q(t.text))
          .join(' ')} || echo "   iptables refused it (exit $?)"`,
    ),
  );
}
