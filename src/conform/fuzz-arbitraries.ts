// Random cases for the differential engine: rulesets for the node drawn from the
// descriptor table with values aimed at the lab (its addresses, ports, VIPs), topology
// variants and probes. Built from records, tuples and map (no chain) so that
// shrinking reaches small cases.
import fc from 'fast-check';
import { EXTENSIONS, type ExtensionDesc } from '../model/index.ts';
import { KINDS, type Kind, type KindName, type OptValue, type NumRange, type NatRange } from '../model/index.ts';
import { TABLE_HOOKS, type TableName, type IptablesFlavor } from '../model/index.ts';
import { parseCidr, parseIp, K8S_NODE } from '../model/index.ts';
import { parseSave } from '../model/index.ts';
import { InputError } from '../model/index.ts';
import type { CaseFile } from './case-file.ts';
import { probeArb } from './probe-arbitraries.ts';
import { optionText } from './arbitraries.ts';
import { reachArb, reachSteps, resolveAll, type ReachDraw } from './reach-arbitraries.ts';
import { cornerArb, withRules, type CornerDraw } from './corner-arbitraries.ts';
import {
  rareArb,
  rareNodeRules,
  routeVariant,
  variantProbes,
  withRareSteps,
  type RareDraw,
} from './rare-arbitraries.ts';

// the preset's networks and addresses (one source: model/net/preset-facts.ts), virtual IPs, loopback
const LAB_CIDRS = [
  K8S_NODE.clusterCIDR,
  ...K8S_NODE.subnets,
  ...K8S_NODE.addresses,
  '10.96.0.0/12',
  '10.96.0.100',
  '127.0.0.0/8',
].map((c) => parseCidr(c)!);
const LAB_PORTS: NumRange[] = [
  [80, 80],
  [8080, 8080],
  [9090, 9090],
  [30080, 30080],
  [1, 1024],
  [8000, 9999],
];
const ENDPOINTS = [...K8S_NODE.pods.map((p) => p.ip), ...K8S_NODE.nodes[0]!.addresses];
const [POD_A, POD_B] = [K8S_NODE.pods[0]!, K8S_NODE.pods[1]!];
const CLIENT = K8S_NODE.others[0]!.ip;
const NODE_IP = K8S_NODE.nodes[0]!.addresses[0]!;

/** The preset node's bridge ports (physdev). */
const BRIDGE_PORTS = K8S_NODE.nodes[0]!.bridgePorts;

/** Values that make rules meet the lab's traffic; kinds without a lab pool use their own arbitrary. */
function valueArb(kind: KindName): fc.Arbitrary<OptValue> {
  switch (kind) {
    case 'ifaceName':
      return fc.constantFrom(...BRIDGE_PORTS, 'veth+');
    case 'cidr':
    case 'cidrShort':
      return fc.constantFrom(...LAB_CIDRS);
    case 'portRange':
      return fc.constantFrom(...LAB_PORTS);
    case 'port':
      return fc.constantFrom(80, 8080, 9090);
    case 'portList':
      return fc.subarray(LAB_PORTS.slice(0, 4), { minLength: 1 });
    case 'natDst':
      return fc
        .tuple(fc.constantFrom(...ENDPOINTS), fc.constantFrom(undefined, 8080, 9090))
        .map(([ip, port]): NatRange => {
          const a = parseIp(ip)!;
          return port === undefined ? { minIp: a, maxIp: a } : { minIp: a, maxIp: a, minPort: port, maxPort: port };
        });
    case 'natPorts':
      return fc.constantFrom(8080, 9090).map((p): NatRange => ({ minPort: p, maxPort: p }));
    case 'markMask':
      return fc.constantFrom(
        { value: 0x4000, mask: 0x4000 },
        { value: 1, mask: 0xffffffff },
        { value: 0, mask: 0xffffffff },
      );
    case 'xmark':
      return fc.constantFrom({ value: 0x4000, mask: 0x4000 }, { value: 1, mask: 0xffffffff });
    case 'hex32':
      return fc.constantFrom(0x4000, 1, 0xffffffff);
    case 'probability':
      return fc.constantFrom(0x40000000, 0x20000000, 0x60000000);
    case 'uint':
      return fc.integer({ min: 1, max: 4 });
    default:
      return (KINDS[kind] as Kind<OptValue>).arb(fc);
  }
}

/** An extension with some of its options; at most one per exclusive group. */
function extArb(d: ExtensionDesc): fc.Arbitrary<string> {
  const usable = d.options.filter((o) => !o.noArb && !o.storeAs);
  return fc
    .tuple(...usable.map((o) => fc.option(optionText(o, valueArb), { nil: undefined, freq: 2 })))
    .map((parts) => {
      const groups = new Set<string>();
      return parts
        .filter((p, i) => {
          if (p === undefined) return false;
          const g = usable[i]!.group;
          if (!g) return true;
          if (groups.has(g)) return false;
          groups.add(g);
          return true;
        })
        .join(' ');
    });
}

const QUIET_TARGETS = new Set(['LOG', 'NFLOG', 'TRACE']); // no verdict, and they would write to the host's logs
const MATCH_DESCS = EXTENSIONS.filter((d) => d.type === 'match' && d.name !== 'comment');
const matchArb = fc.oneof(...MATCH_DESCS.map((d) => extArb(d).map((t) => `-m ${d.name}${t ? ` ${t}` : ''}`)));

/** Targets valid in a table (descriptor tables), so that most drawn rules load. */
function targetArbFor(table: TableName): fc.Arbitrary<string> {
  const exts = EXTENSIONS.filter(
    (d) => d.type === 'target' && !QUIET_TARGETS.has(d.name) && (!d.tables || d.tables.includes(table)),
  );
  const verdicts =
    table === 'nat'
      ? ['-j ACCEPT', '-j RETURN', '-j U1', '-j U2', '-g U2']
      : ['-j ACCEPT', '-j DROP', '-j RETURN', '-j U1', '-j U2', '-g U2'];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...verdicts), weight: 3 },
    {
      arbitrary: fc.oneof(...exts.map((d) => extArb(d).map((t) => `-j ${d.name}${t ? ` ${t}` : ''}`))),
      weight: table === 'nat' ? 6 : 3,
    },
  );
}

const TABLES: TableName[] = ['filter', 'nat', 'mangle', 'raw', 'security'];

export interface RuleDraw {
  table: TableName;
  chain: number;
  /** the chain by name (reach-arbitraries.ts), instead of `chain` */
  chainName?: string;
  src?: string;
  dst?: string;
  proto?: string;
  match?: string;
  target: string;
}

export const ruleArb: fc.Arbitrary<RuleDraw> = fc.oneof(
  ...TABLES.map((table) =>
    fc
      .record(
        {
          table: fc.constant(table),
          chain: fc.nat({ max: 6 }),
          src: fc.constantFrom(K8S_NODE.clusterCIDR, POD_A.ip, CLIENT, `! -s ${K8S_NODE.clusterCIDR}`),
          dst: fc.constantFrom('10.96.0.100', POD_B.ip, NODE_IP, K8S_NODE.clusterCIDR),
          proto: fc.constantFrom('tcp', 'udp', 'icmp'),
          match: matchArb,
          target: targetArbFor(table),
        },
        { requiredKeys: ['table', 'chain', 'target'] },
      )
      .map((r) => (r.match !== undefined && r.chain % 3 !== 0 ? (({ match: _m, ...rest }) => rest)(r) : r)),
  ),
);

/** The built-in chains a target may be in (descriptor hooks), plus the user chains. */
export function chainOf(r: RuleDraw): string {
  if (r.chainName) return r.chainName;
  const name = /^-j (\S+)/.exec(r.target)?.[1];
  const hooks = EXTENSIONS.find((d) => d.type === 'target' && d.name === name)?.hooks;
  const builtin = TABLE_HOOKS[r.table].filter((h) => !hooks || hooks.includes(h));
  const chains = [...builtin, 'U1', 'U2'];
  return chains[r.chain % chains.length]!;
}

/** The protocol a rule needs for its match and target, if the drawn one does not fit. */
function protoFor(r: RuleDraw): string | undefined {
  const m = /^-m (\S+)/.exec(r.match ?? '')?.[1];
  const need = EXTENSIONS.find((d) => d.type === 'match' && d.name === m)?.protos;
  const names: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp' };
  let proto = r.proto;
  if (need && !need.some((n) => names[n] === proto)) proto = names[need[0]!] ?? 'tcp';
  if (/:\d|--to-ports|tcp-reset/.test(r.target) && proto !== 'tcp' && proto !== 'udp') proto = 'tcp';
  if (/tcp-reset/.test(r.target)) proto = 'tcp';
  return proto;
}

export function ruleText(r: RuleDraw): string {
  const parts: string[] = [];
  if (r.src) parts.push(r.src.startsWith('!') ? r.src : `-s ${r.src}`);
  if (r.dst) parts.push(`-d ${r.dst}`);
  const proto = protoFor(r);
  if (proto) parts.push(`-p ${proto}`);
  if (r.match) parts.push(r.match);
  parts.push(r.target);
  return parts.join(' ');
}

/** The rule alone, in its chain, as iptables-restore would take it (U2 may not jump to itself). */
export function acceptedAlone(r: RuleDraw, backend: IptablesFlavor): boolean {
  const chain = chainOf(r);
  if (chain === 'U2' && /-[jg] U[12]\b/.test(r.target)) return false;
  if (chain === 'U1' && /-[jg] U1\b/.test(r.target)) return false;
  try {
    parseSave(`*${r.table}\n:U1 - [0:0]\n:U2 - [0:0]\n-A ${chain} ${ruleText(r)}\nCOMMIT\n`, { backend });
    return true;
  } catch (e) {
    if (e instanceof InputError) return false;
    throw e;
  }
}

/** iptables-save text from rule draws: the rules that are valid alone, grouped by table; built-in chains'
 *  policies ACCEPT unless `policies` says DROP (keys "table CHAIN"). */
export function rulesetFrom(
  rules: readonly RuleDraw[],
  backend: IptablesFlavor,
  policies: ReadonlySet<string> = new Set(),
): string {
  const kept = rules.filter((r) => acceptedAlone(r, backend));
  const out: string[] = [];
  for (const t of TABLES) {
    const mine = kept.filter((r) => r.table === t);
    if (!mine.length) continue;
    const policy = (c: string) => (policies.has(`${t} ${c}`) ? 'DROP' : 'ACCEPT');
    out.push(`*${t}`, ...TABLE_HOOKS[t].map((c) => `:${c} ${policy(c)} [0:0]`), ':U1 - [0:0]', ':U2 - [0:0]');
    for (const r of mine) out.push(`-A ${chainOf(r)} ${ruleText(r)}`);
    out.push('COMMIT');
  }
  return out.join('\n') + (out.length ? '\n' : '');
}

export interface CaseDraw {
  backend: IptablesFlavor;
  ipForward: boolean;
  brNf: boolean;
  routeLocalnet: boolean;
  hairpin1: boolean;
  hairpin2: boolean;
  rules: RuleDraw[];
  /** rules in the other iptables backend at the same time (spec/semantics.md §2.3); mostly none */
  otherRules?: RuleDraw[];
  probes: ReturnType<typeof probeArb> extends fc.Arbitrary<infer P> ? P[] : never;
  /** rules, probes and mid-case steps that meet on purpose (reach-arbitraries.ts); shrinks to none */
  reach?: ReachDraw | undefined;
  /** sysctls, REJECT everywhere it loads, NAT in every nat chain, REJECT behind the NAT (corner-arbitraries.ts) */
  corners?: CornerDraw | undefined;
  /** what campaigns never drew otherwise: rare spellings, redirect sysctls, node2's hairpin, wait/recent/apply/
   *  chain/policy steps (rare-arbitraries.ts); shrinks to none */
  rare?: RareDraw | undefined;
}

export function caseDrawArb(
  opts: {
    backend?: IptablesFlavor;
    maxRules?: number;
    maxProbes?: number;
    /** LOG and TRACE may be drawn: they write nothing to the host's log (rare-arbitraries.ts) */
    quietLog?: boolean;
  } = {},
): fc.Arbitrary<CaseDraw> {
  return fc.record({
    backend: opts.backend ? fc.constant(opts.backend) : fc.constantFrom<IptablesFlavor>('nft', 'legacy'),
    ipForward: fc.constantFrom(true, false),
    brNf: fc.constantFrom(true, false),
    routeLocalnet: fc.constantFrom(false, true),
    hairpin1: fc.constantFrom(false, true),
    hairpin2: fc.constantFrom(false, true),
    rules: fc.array(ruleArb, { minLength: 0, maxLength: opts.maxRules ?? 6 }),
    // one case in eight mixes backends (not when a backend is forced); shrinks to none
    otherRules: opts.backend
      ? fc.constant<RuleDraw[]>([])
      : fc.oneof(
          { weight: 7, arbitrary: fc.constant<RuleDraw[]>([]) },
          { weight: 1, arbitrary: fc.array(ruleArb, { minLength: 1, maxLength: 3 }) },
        ),
    probes: fc.array(probeArb(), { minLength: 1, maxLength: opts.maxProbes ?? 5 }),
    reach: fc.option(reachArb(), { nil: undefined, freq: 3 }),
    // one case in two; shrinks to none
    corners: fc.option(cornerArb(), { nil: undefined, freq: 2 }),
    // one case in three; shrinks to none
    rare: fc.option(rareArb({ quietLog: opts.quietLog ?? false }), { nil: undefined, freq: 3 }),
  });
}

/** The node's ipsets when a drawn rule names one (the setMatch kind draws these names): lab addresses and ports. */
export const FUZZ_IPSETS = [
  'create allowed hash:ip family inet',
  'add allowed 10.244.1.11',
  'add allowed 192.168.50.20',
  'create blocked hash:net,port family inet',
  'add blocked 10.244.0.0/16,tcp:8080',
  'add blocked 192.168.50.0/24,udp:9090',
];

export function caseFromDraw(d: CaseDraw, name = 'fuzz case'): CaseFile {
  const reach = d.reach ? resolveAll(d.reach.recipes, d.reach.palette) : undefined;
  const nodeRules = reach ? [...d.rules, ...reach.node] : d.rules;
  const ruleset = withRules(rulesetFrom(nodeRules, d.backend, new Set(reach?.policies)), [
    ...(d.corners?.node ?? []),
    ...(d.rare ? rareNodeRules(d.rare) : []),
  ]);
  const [port1, port2] = K8S_NODE.nodes[0]!.bridgePorts;
  const hairpin = [...(d.hairpin1 ? [port1!] : []), ...(d.hairpin2 ? [port2!] : [])];
  const node: NonNullable<CaseFile['hosts']>[string] = {
    backend: d.backend,
    sysctls: { ip_forward: d.ipForward, bridge_nf_call_iptables: d.brNf, route_localnet: d.routeLocalnet },
  };
  if (ruleset) node.ruleset = ruleset;
  const other = rulesetFrom(d.otherRules ?? [], d.backend === 'legacy' ? 'nft' : 'legacy');
  if (other) node.otherBackendRuleset = other;
  if (hairpin.length) node.hairpin = hairpin;
  if (/--match-set/.test(`${ruleset}${other}`)) node.ipsets = [...FUZZ_IPSETS];
  const hosts: NonNullable<CaseFile['hosts']> = { node };
  if (reach?.node2.length) hosts.node2 = { backend: d.backend, ruleset: rulesetFrom(reach.node2, d.backend) };
  if (d.corners) {
    node.sysctls = { ...node.sysctls, ...d.corners.sysctls.node };
    const own = Object.entries(d.corners.sysctls.nodeIfaces).filter(([, v]) => Object.keys(v).length > 0);
    if (own.length) node.ifaceSysctls = Object.fromEntries(own);
    hosts.node2 = { ...hosts.node2, sysctls: { ...d.corners.sysctls.node2 } };
    for (const [h, s] of Object.entries(d.corners.sysctls.arp ?? {}))
      hosts[h] = { ...hosts[h], sysctls: { ...hosts[h]?.sysctls, ...s } };
    const ai = d.corners.sysctls.arpIface;
    if (ai) {
      const own = hosts[ai.host]?.ifaceSysctls ?? {};
      const iface = { ...own[ai.iface], ...ai.conf };
      hosts[ai.host] = { ...hosts[ai.host], ifaceSysctls: { ...own, [ai.iface]: iface } };
    }
    const r = d.corners.remote;
    if (r) {
      const h = hosts[r.host] ?? {};
      hosts[r.host] = { ...h, backend: d.backend, ruleset: withRules(h.ruleset ?? '', r.rules) };
    }
  }
  if (d.rare) {
    const r = d.rare;
    node.sysctls = { ...node.sysctls, ...r.sysctls.node };
    hosts.node2 = { ...hosts.node2, sysctls: { ...hosts.node2?.sysctls, ...r.sysctls.node2 } };
    if (r.hairpinNode2) hosts.node2.hairpin = [...K8S_NODE.nodes[1]!.bridgePorts];
    for (const [h, s] of Object.entries(r.sysctls.hosts))
      hosts[h] = { ...hosts[h], sysctls: { ...hosts[h]?.sysctls, ...s } };
  }
  const drawn = d.reach ? reachSteps(d.reach, d.probes, nodeRules, d.backend) : d.probes.map((p) => ({ ...p }));
  const steps = [...(d.rare ? withRareSteps(drawn, d.rare) : drawn), ...variantProbes(d.rare)];
  return { name, tags: ['fuzz'], topology: routeVariant(d.rare) ?? 'k8s-node', hosts, steps };
}
