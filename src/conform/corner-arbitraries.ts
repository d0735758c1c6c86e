// Corners of the packet path a campaign must reach (issue 14 §1), drawn on purpose beside reach-arbitraries.ts'
// palette recipes: the sysctls the path reads (both nodes, the node's interfaces, the ARP ones per host and on one
// node interface), REJECT in every chain where it loads (filter INPUT, FORWARD, OUTPUT and a user chain called
// from them) with every --reject-with, NAT in
// every nat chain (DNAT in PREROUTING and OUTPUT, SNAT and MASQUERADE in POSTROUTING and INPUT), and REJECT
// on a host behind the NAT, so that ICMP errors and resets (RELATED packets) cross a NATed path. The
// addresses and ports are the probes' own (probe-arbitraries.ts), so that most probes meet these rules.
// Records and tuples only (no chain), so that shrinking reaches small cases.
import fc from 'fast-check';
import {
  K8S_NODE,
  k8sNode,
  REJECT_TYPES,
  type NodeFacts,
  type TableName,
  type Sysctls,
  type IfaceSysctls,
} from '../model/index.ts';
import { VIRTUAL_IPS, PORTS } from './probe-arbitraries.ts';

/** One rule in a chain of a table, as the text after `-A CHAIN`. */
export interface CornerRule {
  table: TableName;
  chain: string;
  spec: string;
  /** put before the drawn rules of the chain (else after) */
  first: boolean;
}

/** The node's and node2's settings, beyond what the base draw varies. */
export interface CornerSysctls {
  node: Pick<Sysctls, 'rp_filter' | 'accept_local'>;
  node2: Pick<Sysctls, 'ip_forward' | 'rp_filter' | 'route_localnet' | 'bridge_nf_call_iptables'>;
  /** the node's interfaces' own settings (net.ipv4.conf.IFACE.*), over the host's */
  nodeIfaces: Partial<Record<'cni0' | 'eth0' | 'eth1', Partial<IfaceSysctls>>>;
  /** ARP settings (arp_ignore, arp_announce, arp_filter) of the hosts that answer and ask on the node's links */
  arp: Partial<Record<ArpHost, ArpSysctls>>;
  /** ARP settings of one interface of a node (conf.IF, combined with the host's conf.all: topology.ts IfaceSysctls):
   *  a device that ignores, announces or filters unlike the others */
  arpIface?: ArpIface | undefined;
}

export interface ArpIface {
  host: 'node' | 'node2';
  iface: string;
  conf: Partial<ArpSysctls>;
}

type ArpHost = 'node' | 'node2' | 'pod1' | 'client';
type ArpSysctls = Pick<Sysctls, 'arp_ignore' | 'arp_announce' | 'arp_filter'>;

const arpArb: fc.Arbitrary<ArpSysctls> = fc.record({
  arp_ignore: fc.constantFrom<Sysctls['arp_ignore']>(0, 1, 2, 8, 0, 2),
  arp_announce: fc.constantFrom<Sysctls['arp_announce']>(0, 1, 2),
  arp_filter: fc.boolean(),
});

/** The nodes' interfaces with an address (those ARP is asked and answered on), from the preset. */
export const ARP_IFACES: Record<ArpIface['host'], string[]> = {
  node: nodeIfaces('node'),
  node2: nodeIfaces('node2'),
};

function nodeIfaces(host: string): string[] {
  return (k8sNode().hosts.find((h) => h.name === host)?.ifaces ?? []).filter((i) => i.addrs?.length).map((i) => i.name);
}

const arpIfaceArb: fc.Arbitrary<ArpIface> = fc.constantFrom<ArpIface['host']>('node', 'node2').chain((host) =>
  fc.record({
    host: fc.constant(host),
    iface: fc.constantFrom(...ARP_IFACES[host]),
    conf: fc
      .record(
        {
          // mostly raising the host's (conf.all); a 0 below a host's 1 or 2 must not lower it
          arp_ignore: fc.constantFrom<Sysctls['arp_ignore']>(1, 2, 8, 1, 2, 0),
          arp_announce: fc.constantFrom<Sysctls['arp_announce']>(1, 2, 1, 2, 0),
          arp_filter: fc.constantFrom(true, true, false),
        },
        { requiredKeys: [] },
      )
      .filter((c) => Object.keys(c).length > 0),
  }),
);

export interface CornerDraw {
  sysctls: CornerSysctls;
  /** REJECT and NAT rules for the node */
  node: CornerRule[];
  /** REJECT rules on one host behind (or in front of) the node's NAT */
  remote?: { host: RemoteHost; rules: CornerRule[] };
}

type RemoteHost = 'node2' | 'pod1' | 'pod2' | 'pod3' | 'client';

/** A user chain that REJECT rules may sit in (jumped to from INPUT, FORWARD or OUTPUT). */
export const REJECT_USER_CHAIN = 'REJ';

// the pools, from the preset's facts (one source: model/net/preset-facts.ts)
const [NODE, NODE2] = K8S_NODE.nodes as [NodeFacts, NodeFacts];
const [NODE_PRIMARY, NODE_BRIDGE] = NODE.addresses as [string, string, ...string[]];
const PODS = K8S_NODE.pods.map((p) => p.ip);
const CLIENT = K8S_NODE.others[0]!.ip;
/** an address in the node's pod subnet that no host holds: nobody answers ARP for it */
const NOBODY = (() => {
  const [a, b, c] = NODE.podCidr.split('/')[0]!.split('.');
  return `${a}.${b}.${c}.99`;
})();
const MATCH_DSTS = [...VIRTUAL_IPS, ...PODS, NODE_PRIMARY, NODE_BRIDGE];
/** DNAT targets: pods, both nodes, the client, loopback (route_localnet), nobody, a VIP */
const DNAT_TO = [...PODS, NODE_BRIDGE, NODE_PRIMARY, CLIENT, NODE2.addresses[0]!, '127.0.0.1', NOBODY, VIRTUAL_IPS[0]!];
/** open (the servers') and closed (80, 7777) ports: a closed one answers with a reset or a port-unreachable */
const DNAT_PORTS = [undefined, ...K8S_NODE.serverPorts, 80, 7777];
/** the node's own addresses, and one it does not hold (a pod's) */
const SNAT_TO = [...NODE.addresses, PODS[0]!];
const SNAT_SRC = [K8S_NODE.clusterCIDR, CLIENT, PODS[0]!];
const [BRIDGE, UPLINK, PEERLINK] = [NODE.bridge, 'eth0', 'eth1'];
const OUT_IFACES = [undefined, BRIDGE, UPLINK, PEERLINK];

type Proto = 'tcp' | 'udp' | 'icmp';
const protoArb = fc.constantFrom<Proto | undefined>(undefined, 'tcp', 'udp', 'icmp');

/** `-p P [--dport N]`, `-d A`: the port only with a port protocol. */
function matchText(m: { proto: Proto | undefined; dst: string | undefined; dport: number | undefined }): string[] {
  const parts: string[] = [];
  if (m.dst) parts.push(`-d ${m.dst}`);
  if (m.proto) parts.push(`-p ${m.proto}`);
  if (m.dport !== undefined && (m.proto === 'tcp' || m.proto === 'udp')) parts.push(`--dport ${m.dport}`);
  return parts;
}

/** mostly absent: a rule that matches most probes reaches its corner often */
const seldom = <T>(values: readonly T[], weight = 3) =>
  fc.oneof(
    { weight, arbitrary: fc.constant<T | undefined>(undefined) },
    { weight: 1, arbitrary: fc.constantFrom<T | undefined>(...values) },
  );

const matchArb = fc.record({
  proto: protoArb,
  dst: seldom(MATCH_DSTS),
  dport: seldom(PORTS),
});

/** REJECT where it loads (filter INPUT/FORWARD/OUTPUT: ipt_REJECT's .table and .hooks), any --reject-with. */
function rejectArb(chains: readonly ('INPUT' | 'FORWARD' | 'OUTPUT')[]): fc.Arbitrary<CornerRule[]> {
  return fc
    .record({
      chain: fc.constantFrom(...chains),
      viaUser: fc.boolean(),
      with: fc.constantFrom(...REJECT_TYPES),
      match: matchArb,
      // not ESTABLISHED: a TCP exchange blocked after its handshake leaves conntrack states that move with the
      // server's retransmissions (FIN_WAIT, then CLOSE_WAIT a second later), which the model has no clock for
      ctstate: seldom(['NEW', 'DNAT', 'SNAT', 'RELATED']),
      first: fc.boolean(),
    })
    .map((d): CornerRule[] => {
      const m = { ...d.match };
      // tcp-reset needs -p tcp (libipt_REJECT's check)
      if (d.with === 'tcp-reset') m.proto = 'tcp';
      const parts = matchText(m);
      if (d.ctstate) parts.push(`-m conntrack --ctstate ${d.ctstate}`);
      parts.push(`-j REJECT --reject-with ${d.with}`);
      const spec = parts.join(' ');
      if (!d.viaUser) return [{ table: 'filter', chain: d.chain, spec, first: d.first }];
      return [
        { table: 'filter', chain: REJECT_USER_CHAIN, spec, first: true },
        { table: 'filter', chain: d.chain, spec: `-j ${REJECT_USER_CHAIN}`, first: d.first },
      ];
    });
}

/** DNAT in PREROUTING or OUTPUT to a pod, a node, the client, loopback, nobody, with an open or closed port. */
const dnatArb: fc.Arbitrary<CornerRule> = fc
  .record({
    chain: fc.constantFrom('PREROUTING', 'OUTPUT'),
    match: matchArb,
    to: fc.constantFrom(...DNAT_TO),
    port: fc.constantFrom(...DNAT_PORTS),
    first: fc.boolean(),
  })
  .map((d) => {
    const withPort = d.port !== undefined && (d.match.proto === 'tcp' || d.match.proto === 'udp');
    const to = withPort ? `${d.to}:${d.port}` : d.to;
    return {
      table: 'nat',
      chain: d.chain,
      spec: [...matchText(d.match), `-j DNAT --to-destination ${to}`].join(' '),
      first: d.first,
    };
  });

/** SNAT or MASQUERADE in POSTROUTING, SNAT in INPUT (nf_nat's source manipulation hooks). */
const snatArb: fc.Arbitrary<CornerRule> = fc
  .record({
    chain: fc.constantFrom('POSTROUTING', 'POSTROUTING', 'INPUT'),
    src: seldom(SNAT_SRC, 2),
    match: matchArb,
    out: fc.constantFrom(...OUT_IFACES),
    masquerade: fc.boolean(),
    to: fc.constantFrom(...SNAT_TO),
    first: fc.boolean(),
  })
  .map((d) => {
    const parts: string[] = [];
    if (d.src) parts.push(`-s ${d.src}`);
    parts.push(...matchText(d.match));
    if (d.out && d.chain === 'POSTROUTING') parts.push(`-o ${d.out}`);
    parts.push(d.masquerade && d.chain === 'POSTROUTING' ? '-j MASQUERADE' : `-j SNAT --to-source ${d.to}`);
    return { table: 'nat', chain: d.chain, spec: parts.join(' '), first: d.first };
  });

const REMOTE_CHAINS: Record<RemoteHost, ('INPUT' | 'FORWARD' | 'OUTPUT')[]> = {
  node2: ['INPUT', 'FORWARD', 'OUTPUT'],
  pod1: ['INPUT', 'OUTPUT'],
  pod2: ['INPUT', 'OUTPUT'],
  pod3: ['INPUT', 'OUTPUT'],
  client: ['INPUT', 'OUTPUT'],
};

const remoteArb = fc
  .constantFrom<RemoteHost>('node2', 'pod1', 'pod2', 'pod3', 'client')
  .chain((host) =>
    fc.array(rejectArb(REMOTE_CHAINS[host]), { minLength: 1, maxLength: 2 }).map((rs) => ({ host, rules: rs.flat() })),
  );

const ifaceSysctlsArb: fc.Arbitrary<Partial<IfaceSysctls>> = fc.record(
  {
    forwarding: fc.boolean(),
    rp_filter: fc.constantFrom<IfaceSysctls['rp_filter']>(0, 1, 2),
    route_localnet: fc.boolean(),
    accept_local: fc.boolean(),
  },
  { requiredKeys: [] },
);

const sysctlsArb: fc.Arbitrary<CornerSysctls> = fc.record({
  node: fc.record({
    rp_filter: fc.constantFrom<Sysctls['rp_filter']>(0, 1, 2),
    accept_local: fc.boolean(),
  }),
  node2: fc.record({
    ip_forward: fc.constantFrom(true, true, false),
    rp_filter: fc.constantFrom<Sysctls['rp_filter']>(0, 1, 2),
    route_localnet: fc.boolean(),
    bridge_nf_call_iptables: fc.constantFrom(true, true, false),
  }),
  // each host's ARP settings one case in four or so (arp_ignore=8 silences the host on its links)
  arp: fc
    .record({ node: arpArb, node2: arpArb, pod1: arpArb, client: arpArb }, { requiredKeys: [] })
    .filter((x) => Object.keys(x).length <= 2),
  // one case in three or so: one node interface's own ARP settings
  arpIface: fc.option(arpIfaceArb, { nil: undefined, freq: 3 }),
  // one case in three: an interface that does not forward drops much of what a case sends
  nodeIfaces: fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    {
      weight: 1,
      arbitrary: fc.record(
        { cni0: ifaceSysctlsArb, eth0: ifaceSysctlsArb, eth1: ifaceSysctlsArb },
        { requiredKeys: [] },
      ),
    },
  ),
});

/** NAT and REJECT on the node, sometimes REJECT on another host; shrinks towards fewer rules and no remote. */
export function cornerArb(): fc.Arbitrary<CornerDraw> {
  return fc.record(
    {
      sysctls: sysctlsArb,
      node: fc
        .array(
          fc.oneof(
            { weight: 3, arbitrary: rejectArb(['INPUT', 'FORWARD', 'OUTPUT']) },
            { weight: 3, arbitrary: dnatArb.map((r) => [r]) },
            { weight: 2, arbitrary: snatArb.map((r) => [r]) },
          ),
          { minLength: 1, maxLength: 4 },
        )
        .map((rs) => rs.flat()),
      remote: remoteArb,
    },
    { requiredKeys: ['sysctls', 'node'] },
  );
}

/**
 * iptables-save text with `extra` rules merged in: each table's section gets its user chains declared and
 * its rules put first or last in their chain; a table the text lacks gets a section of its own.
 */
export function withRules(text: string, extra: readonly CornerRule[]): string {
  if (!extra.length) return text;
  const sections = new Map<string, { head: string[]; rules: string[] }>();
  const order: string[] = [];
  let cur: { head: string[]; rules: string[] } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { head: [line], rules: [] };
      sections.set(line.slice(1), cur);
      order.push(line.slice(1));
    } else if (!cur || line === 'COMMIT' || line === '') continue;
    else if (line.startsWith(':')) cur.head.push(line);
    else cur.rules.push(line);
  }
  for (const r of extra) {
    if (!sections.has(r.table)) {
      sections.set(r.table, { head: [`*${r.table}`], rules: [] });
      order.push(r.table);
    }
  }
  const out: string[] = [];
  for (const t of order) {
    const s = sections.get(t)!;
    const mine = extra.filter((r) => r.table === t);
    const declared = new Set(s.head.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]));
    const users = [...new Set(mine.map((r) => r.chain).filter((c) => c === REJECT_USER_CHAIN && !declared.has(c)))];
    const first = mine.filter((r) => r.first).map((r) => `-A ${r.chain} ${r.spec}`);
    const last = mine.filter((r) => !r.first).map((r) => `-A ${r.chain} ${r.spec}`);
    out.push(...s.head, ...users.map((u) => `:${u} - [0:0]`), ...first, ...s.rules, ...last, 'COMMIT');
  }
  return out.join('\n') + '\n';
}
