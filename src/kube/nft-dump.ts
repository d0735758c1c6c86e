// What a node's nft dump (kube-proxy's nftables mode) says, read from the PARSED ruleset, never from its
// text: the settings kube-proxy ran with (its local-traffic detector, masquerade-all, --nodeport-addresses, the
// masquerade mark), the base chains' jumps it lacks, and the objects no Service explains (spec/kube.md §6).
// The shape is compile-nft.ts's, learned from kube-proxy's pkg/proxy/nftables/proxier.go.
import { formatIp, formatCidr } from '../model/index.ts';
import {
  printNftRuleBody as printRuleBody,
  NFT_DTYPES as DTYPES,
  type NftRuleset,
  type NftTable,
  type NftRule,
  type NftVerdict as Verdict,
  type NftValue as Value,
  type NftDtypeName,
} from '../model/index.ts';
import type { Cluster } from './objects.ts';
import { resolve } from './endpoints.ts';
import type { DumpSettings, DumpDetector } from './dump-settings.ts';
import type { RuleWarning } from './explain-rules.ts';
import { NFT_TABLE } from './compile-nft.ts';

const KUBE_TABLE = `ip ${NFT_TABLE}`;

/** kube-proxy's per-Service objects: kind, 8 base32 characters of a hash, then "ns/name/proto/port[__ip/port]" */
const PER_SERVICE =
  /^(service|local|external|firewall|endpoint|affinity)-[A-Z2-7]{8}-([^/\s]+\/[^/\s]+)\/[a-z]+\/[^/\s]*/;

/** Which Service a per-Service chain or set belongs to ("ns/name"), from its name. */
export function nftOwner(name: string): string | undefined {
  return PER_SERVICE.exec(name)?.[2];
}

/** kube-proxy's fixed chains and sets (compile-nft.ts), whatever the Services. */
const FIXED_CHAINS = new Set([
  'filter-prerouting-pre-dnat',
  'filter-output-pre-dnat',
  'filter-forward',
  'filter-input',
  'filter-output',
  'nat-prerouting',
  'nat-output',
  'nat-postrouting',
  'mark-for-masquerade',
  'masquerading',
  'cluster-ips-check',
  'reject-chain',
  'service-endpoints-check',
  'nodeport-endpoints-check',
  'firewall-check',
  'services',
]);
const FIXED_SETS = new Set([
  // kube-proxy 1.36's hairpin set (spec/kube.md §2a, "Which kube-proxy")
  'hairpin-connections',
  'cluster-ips',
  'nodeport-ips',
  'no-endpoint-services',
  'no-endpoint-nodeports',
  'firewall-ips',
  'service-ips',
  'service-nodeports',
]);

/** The base chains' jumps to the top-level chains (compile-nft.ts JUMPS), as "base chain (hook) -> target". */
const JUMPS: readonly [string, string, string][] = [
  ['filter-prerouting-pre-dnat', 'prerouting', 'firewall-check'],
  ['filter-output-pre-dnat', 'output', 'firewall-check'],
  ['filter-forward', 'forward', 'service-endpoints-check'],
  ['filter-forward', 'forward', 'cluster-ips-check'],
  ['filter-input', 'input', 'nodeport-endpoints-check'],
  ['filter-input', 'input', 'service-endpoints-check'],
  ['filter-output', 'output', 'service-endpoints-check'],
  ['filter-output', 'output', 'cluster-ips-check'],
  ['nat-prerouting', 'prerouting', 'services'],
  ['nat-output', 'output', 'services'],
  ['nat-postrouting', 'postrouting', 'masquerading'],
];

export interface NftDumpSettings extends DumpSettings {
  /** the mark mark-for-masquerade sets (kube-proxy's masquerade bit), as nft prints it */
  masqueradeMark?: string;
  /** masquerading tests another mark than mark-for-masquerade sets */
  markMismatch?: string;
}

const verdictTarget = (v: Verdict | undefined) => (v?.kind === 'jump' || v?.kind === 'goto' ? v.chain : undefined);

/** The chains a rule's verdicts name: its verdict, and those of its anonymous verdict maps. */
function ruleTargets(r: NftRule): string[] {
  const out: string[] = [];
  for (const s of r.stmts) {
    if (s.k === 'verdict') out.push(...[verdictTarget(s.v)].filter((x): x is string => !!x));
    if (s.k === 'vmap' && s.map.kind === 'set')
      for (const e of s.map.elements) {
        const t = verdictTarget(e.verdict);
        if (t) out.push(t);
      }
  }
  return out;
}

const printElementKey = (key: readonly Value[], types: readonly NftDtypeName[]) =>
  key
    .map((v, i) => {
      const dt = DTYPES[types[i]!];
      return v.kind === 'value' ? dt.print(v.v) : v.kind === 'range' ? `${dt.print(v.lo)}-${dt.print(v.hi)}` : '…';
    })
    .join(' . ');

const single = (v: Value | undefined) => (v?.kind === 'value' && typeof v.v === 'number' ? v.v : undefined);

/** The kube-proxy table of a dump, if any. */
export const kubeTable = (rs: NftRuleset): NftTable | undefined => rs.tables.get(KUBE_TABLE);

export function nftDumpSettings(rs: NftRuleset): NftDumpSettings {
  const t = kubeTable(rs);
  let detector: DumpDetector | undefined;
  let masqueradeAll = false;
  let sawServiceChain = false;
  for (const c of t?.chains.values() ?? []) {
    const kind = /^(service|local|external)-/.exec(c.name)?.[1];
    if (!kind || !nftOwner(c.name)) continue;
    if (kind === 'service') sawServiceChain = true;
    for (const r of c.rules) {
      const to = ruleTargets(r);
      const matches = r.stmts.filter((s) => s.k === 'match');
      const saddr = matches.find((s) => s.left.kind === 'sel' && s.left.name === 'ip saddr');
      const iif = matches.find((s) => s.left.kind === 'sel' && s.left.name === 'iifname');
      const daddr = matches.some((s) => s.left.kind === 'sel' && s.left.name === 'ip daddr');
      const cidrOf = (s: typeof saddr) => {
        if (s?.right.kind !== 'values') return undefined;
        const v = s.right.value;
        return v.kind === 'prefix' ? formatCidr({ addr: v.v, len: v.len }) : undefined;
      };
      const ifOf = (s: typeof iif) => {
        if (s?.right.kind !== 'values' || s.right.value.kind !== 'value') return undefined;
        // nft's "cali*" is iptables' "cali+": the lab names its bridge from either
        return String(s.right.value.v).replace(/\*$/, '+');
      };
      // the internal chain's masquerade rule: `ip daddr CIP ip saddr != CIDR` (or `iifname != IF`), or nothing
      // but the address with masquerade-all
      if (kind === 'service' && daddr && to.includes('mark-for-masquerade')) {
        const cidr = cidrOf(saddr);
        const iface = ifOf(iif);
        if (saddr?.op === 'ne' && cidr) detector ??= { mode: 'ClusterCIDR', cidr };
        else if (iif?.op === 'ne' && iface) detector ??= { mode: 'Interface', iface };
        else if (!saddr && !iif) masqueradeAll = true;
      }
      // a Local policy's short circuit of pod traffic: `ip saddr CIDR goto service-...`
      if (kind === 'external' && to.some((x) => x.startsWith('service-'))) {
        const cidr = cidrOf(saddr);
        const iface = ifOf(iif);
        if (saddr?.op === 'eq' && cidr) detector ??= { mode: 'ClusterCIDR', cidr };
        else if (iif?.op === 'eq' && iface) detector ??= { mode: 'Interface', iface };
      }
    }
  }
  // kube-proxy 1.36: one rule first in `services` marks ClusterIP traffic, `ip daddr @cluster-ips ip saddr != CIDR
  // meta mark set meta mark | M` (`iifname != IF`; no source match: masquerade-all), none without a detector
  let clusterIpsRule = false;
  for (const r of t?.chains.get('services')?.rules ?? []) {
    const matches = r.stmts.filter((x) => x.k === 'match');
    const toClusterIps = matches.some(
      (x) =>
        x.left.kind === 'sel' && x.left.name === 'ip daddr' && x.right.kind === 'ref' && x.right.name === 'cluster-ips',
    );
    if (!toClusterIps || !r.stmts.some((x) => x.k === 'mark' && x.target === 'meta')) continue;
    clusterIpsRule = true;
    const saddr = matches.find((x) => x.left.kind === 'sel' && x.left.name === 'ip saddr');
    const iif = matches.find((x) => x.left.kind === 'sel' && x.left.name === 'iifname');
    const v = saddr?.right.kind === 'values' ? saddr.right.value : undefined;
    const i = iif?.right.kind === 'values' && iif.right.value.kind === 'value' ? iif.right.value.v : undefined;
    if (saddr?.op === 'ne' && v?.kind === 'prefix')
      detector ??= { mode: 'ClusterCIDR', cidr: formatCidr({ addr: v.v, len: v.len }) };
    else if (iif?.op === 'ne' && i !== undefined)
      detector ??= { mode: 'Interface', iface: String(i).replace(/\*$/, '+') };
    else if (!saddr && !iif) masqueradeAll = true;
  }
  // 1.36 has no masquerade rule in the Service chains: without the `services` rule, no detector (as before 1.36)
  const is136 = t?.sets.has('hairpin-connections') === true;
  if (!detector)
    detector = (sawServiceChain || is136) && !masqueradeAll && !clusterIpsRule ? { mode: 'None' } : { mode: 'Unknown' };
  // --nodeport-addresses: the nodeport-ips set, when the services chain's NodePort rule looks it up
  const services = t?.chains.get('services')?.rules ?? [];
  const usesNodePortIps = services.some((r) =>
    r.stmts.some((s) => s.k === 'match' && s.right.kind === 'ref' && s.right.name === 'nodeport-ips'),
  );
  const nodePortIps = usesNodePortIps
    ? (t?.sets.get('nodeport-ips')?.elements ?? [])
        .map((e) => single(e.key[0]))
        .filter((a): a is number => a !== undefined)
        .map((a) => `${formatIp(a)}/32`)
    : undefined;
  // the masquerade mark: what mark-for-masquerade ORs in (kube-proxy 1.36, without that chain: what `services`
  // ORs in, else the first per-Service chain that sets it, as an external chain does without a detector), and
  // what masquerading tests
  const orMark = (chain: string) =>
    t?.chains
      .get(chain)
      ?.rules.flatMap((r) => r.stmts)
      .find((s) => s.k === 'mark' && s.target === 'meta' && s.value.kind === 'from' && s.value.op === '|');
  const markSetter = ['mark-for-masquerade', 'services', ...[...(t?.chains.keys() ?? [])].filter(nftOwner)].find((c) =>
    orMark(c),
  );
  const set = markSetter === undefined ? undefined : orMark(markSetter);
  const mark = set?.k === 'mark' && set.value.kind === 'from' ? set.value.v : undefined;
  const tested = t?.chains
    .get('masquerading')
    ?.rules.flatMap((r) => r.stmts)
    .find((s) => s.k === 'match' && s.left.kind === 'and' && s.left.name === 'meta mark');
  const testedMark = tested?.k === 'match' && tested.left.kind === 'and' ? tested.left.mask : undefined;
  const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
  const missingJumps = JUMPS.filter(([from, hook, to]) => {
    const c = t?.chains.get(from);
    return !c?.base || c.base.hook !== hook || !c.rules.some((r) => ruleTargets(r).includes(to));
  }).map(([from, , to]) => `${KUBE_TABLE} ${from} -> ${to}`);
  return {
    detector,
    masqueradeAll,
    // nftables mode has no localhost NodePorts (spec/kube.md §2a)
    localhostNodePorts: false,
    localnetUnprotected: false,
    missingJumps,
    proxyMode: 'nftables',
    ...(nodePortIps ? { nodePortAddresses: nodePortIps } : {}),
    ...(mark !== undefined ? { masqueradeMark: hex(mark) } : {}),
    ...(mark !== undefined && testedMark !== undefined && mark !== testedMark
      ? { markMismatch: `${markSetter} sets ${hex(mark)}, masquerading tests ${hex(testedMark)}` }
      : {}),
  };
}

/** The objects of an nft dump no Service explains: foreign tables and rules, leftovers, stale chains. */
export function unexplainedNft(rs: NftRuleset, cluster: Cluster, nodeName: string): RuleWarning[] {
  const out: RuleWarning[] = [];
  const ports = resolve(cluster, nodeName);
  const services = new Set(cluster.services.map((s) => `${s.namespace}/${s.name}`));
  const addresses = new Set(
    ports.flatMap((rp) =>
      [rp.svc.clusterIP, ...rp.svc.externalIPs, ...rp.svc.loadBalancerIPs].filter((x): x is string => Boolean(x)),
    ),
  );
  const nodePorts = new Set(ports.filter((rp) => rp.hasNodePort).map((rp) => rp.port.nodePort));
  for (const [key, t] of rs.tables) {
    if (key !== KUBE_TABLE) {
      out.push({ table: key, chain: '', text: `table ${key}`, why: "a table that is not kube-proxy's" });
      continue;
    }
    const referenced = new Set<string>();
    for (const c of t.chains.values()) for (const r of c.rules) for (const x of ruleTargets(r)) referenced.add(x);
    for (const s of t.sets.values())
      for (const e of s.elements) {
        const x = verdictTarget(e.verdict);
        if (x) referenced.add(x);
      }
    for (const c of t.chains.values()) {
      const owner = nftOwner(c.name);
      const at = { table: key, chain: c.name, text: `chain ${c.name}` };
      if (!FIXED_CHAINS.has(c.name) && !owner) {
        out.push({ ...at, why: 'a chain kube-proxy does not make' });
        continue;
      }
      if (owner && !services.has(owner))
        out.push({ ...at, why: `for Service ${owner}, which does not exist (a leftover)` });
      else if (owner && !referenced.has(c.name)) out.push({ ...at, why: 'nothing jumps to it (a stale chain)' });
      if (c.base)
        c.rules.forEach((r, i) => {
          const to = ruleTargets(r);
          if (to.length && to.every((x) => FIXED_CHAINS.has(x) || nftOwner(x))) return;
          out.push({
            table: key,
            chain: c.name,
            rule: i + 1,
            ...(r.pos ? { line: r.pos.line } : {}),
            text: `chain ${c.name}: ${printRuleBody(r, { family: t.family })}`,
            why: "a rule in a base chain that does not lead to kube-proxy's chains (a foreign rule)",
          });
        });
    }
    for (const s of t.sets.values()) {
      const owner = nftOwner(s.name);
      if (!FIXED_SETS.has(s.name) && !owner) {
        out.push({
          table: key,
          chain: '',
          text: `${s.map ? 'map' : 'set'} ${s.name}`,
          why: 'a set kube-proxy does not make',
        });
        continue;
      }
      if (owner && !services.has(owner))
        out.push({
          table: key,
          chain: '',
          text: `set ${s.name}`,
          why: `for Service ${owner}, which does not exist (a leftover)`,
        });
      // elements for addresses or node ports no Service has: leftovers of deleted Services
      const byAddr = ['service-ips', 'no-endpoint-services', 'firewall-ips', 'cluster-ips'].includes(s.name);
      const byPort = ['service-nodeports', 'no-endpoint-nodeports'].includes(s.name);
      for (const e of s.elements) {
        const first = single(e.key[0]);
        const port = single(e.key[1]);
        const text = `element ${s.name} { ${printElementKey(e.key, s.key)} }`;
        if (byAddr && first !== undefined && !addresses.has(formatIp(first)))
          out.push({ table: key, chain: '', text, why: `${formatIp(first)} is no Service's address (a leftover)` });
        else if (byPort && port !== undefined && !nodePorts.has(port))
          out.push({ table: key, chain: '', text, why: `${port} is no Service's NodePort (a leftover)` });
      }
    }
  }
  return out;
}
