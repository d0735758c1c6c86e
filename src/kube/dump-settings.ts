// What a node's dump says about the kube-proxy that wrote it, read from the PARSED ruleset
// (never by regex over the text, whose rule order differs between iptables-save versions):
// its local-traffic detector, masquerade-all, localhost NodePorts, and which of kube-proxy's
// jumps from the built-in chains are missing (spec/kube.md §6).
import { formatCidr, type Ruleset, type Rule, type TableName } from '../model/index.ts';

export type DumpDetector =
  { mode: 'ClusterCIDR'; cidr: string } | { mode: 'Interface'; iface: string } | { mode: 'None' } | { mode: 'Unknown' };

export interface DumpSettings {
  detector: DumpDetector;
  masqueradeAll: boolean;
  /** NodePorts answer on 127.0.0.1 (kube-proxy sets route_localnet=1): read off the NodePort catch-all */
  localhostNodePorts: boolean;
  /** localhost NodePorts are on but KUBE-FIREWALL lacks its drop of outside packets to 127/8 */
  localnetUnprotected: boolean;
  /** kube-proxy's jumps from built-in chains that the dump lacks, as "table CHAIN -> TARGET" */
  missingJumps: string[];
  /** the dump is kube-proxy's nftables mode (nft-dump.ts) */
  proxyMode?: 'nftables';
  /** --nodeport-addresses as the dump shows them (nftables mode: the nodeport-ips set), as CIDRs */
  nodePortAddresses?: string[];
}

const target = (r: Rule) => (r.target?.kind === 'jump' || r.target?.kind === 'goto' ? r.target.chain : undefined);
const isServiceChain = (c: string) => /^KUBE-(SVC|SVL)-/.test(c);

/** kube-proxy's jumps from the built-in chains (iptablesJumpChains in proxier.go). */
const JUMPS: [TableName, string, string][] = [
  ['nat', 'PREROUTING', 'KUBE-SERVICES'],
  ['nat', 'OUTPUT', 'KUBE-SERVICES'],
  ['nat', 'POSTROUTING', 'KUBE-POSTROUTING'],
  ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL'],
  ['filter', 'INPUT', 'KUBE-NODEPORTS'],
  ['filter', 'INPUT', 'KUBE-EXTERNAL-SERVICES'],
  ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL'],
  ['filter', 'FORWARD', 'KUBE-FORWARD'],
  ['filter', 'FORWARD', 'KUBE-SERVICES'],
  ['filter', 'FORWARD', 'KUBE-EXTERNAL-SERVICES'],
  ['filter', 'OUTPUT', 'KUBE-PROXY-FIREWALL'],
  ['filter', 'OUTPUT', 'KUBE-SERVICES'],
];

/** kubelet's (and kube-proxy's copy of its) jumps to KUBE-FIREWALL, when that chain exists */
const KUBELET_JUMPS: [TableName, string, string][] = [
  ['filter', 'INPUT', 'KUBE-FIREWALL'],
  ['filter', 'OUTPUT', 'KUBE-FIREWALL'],
];

export function dumpSettings(rs: Ruleset): DumpSettings {
  const nat = rs.tables.get('nat');
  const filter = rs.tables.get('filter');
  // the internal chains' masquerade rule: `! -s CIDR` (ClusterCIDR, NodeCIDR), `! -i IFACE` (BridgeInterface,
  // InterfaceNamePrefix), nothing (masquerade-all); no such rule in any chain: no detector
  let detector: DumpDetector | undefined;
  let masqueradeAll = false;
  let sawServiceChain = false;
  for (const c of nat?.chains.values() ?? []) {
    if (!isServiceChain(c.name)) continue;
    sawServiceChain = true;
    for (const r of c.rules) {
      if (target(r) !== 'KUBE-MARK-MASQ' || !r.dst) continue;
      if (r.src?.neg) detector ??= { mode: 'ClusterCIDR', cidr: formatCidr(r.src.value) };
      else if (r.inIface?.neg) detector ??= { mode: 'Interface', iface: r.inIface.value };
      else if (!r.src && !r.inIface) masqueradeAll = true;
    }
  }
  // the pod short circuit of a Local-policy EXT chain shows the detector too
  for (const c of nat?.chains.values() ?? [])
    if (c.name.startsWith('KUBE-EXT-'))
      for (const r of c.rules)
        if (isServiceChain(target(r) ?? '') && !r.matches.some((m) => m.name === 'addrtype')) {
          if (r.src && !r.src.neg) detector ??= { mode: 'ClusterCIDR', cidr: formatCidr(r.src.value) };
          else if (r.inIface && !r.inIface.neg) detector ??= { mode: 'Interface', iface: r.inIface.value };
        }
  if (!detector) detector = sawServiceChain && !masqueradeAll ? { mode: 'None' } : { mode: 'Unknown' };
  const fw = filter?.chains.get('KUBE-FIREWALL');
  const localnetDrop =
    fw?.rules.some(
      (r) => r.dst && !r.dst.neg && formatCidr(r.dst.value) === '127.0.0.0/8' && r.target?.kind === 'verdict',
    ) ?? false;
  // the NodePort catch-all excludes 127/8 (or an older RETURN rule does) unless localhost NodePorts are on
  const services = [...(nat?.chains.get('KUBE-SERVICES')?.rules ?? [])];
  const catchAll = services.find((r) => target(r) === 'KUBE-NODEPORTS' && r.matches.some((m) => m.name === 'addrtype'));
  const is127 = (c: { value: { addr: number; len: number } } | undefined) =>
    c !== undefined && formatCidr(c.value) === '127.0.0.0/8';
  const loopbackReturn = services.some((r) => is127(r.dst) && !r.dst!.neg && r.target?.kind === 'verdict');
  const loopbackRule = services.some(
    (r) => target(r) === 'KUBE-NODEPORTS' && r.dst && !r.dst.neg && r.dst.value.addr >>> 24 === 127,
  );
  const localhostNodePorts = catchAll
    ? !(catchAll.dst?.neg && is127(catchAll.dst)) && !loopbackReturn
    : loopbackRule || (!services.some((r) => target(r) === 'KUBE-NODEPORTS') && localnetDrop);
  const jumps = fw ? [...JUMPS, ...KUBELET_JUMPS] : JUMPS;
  const missingJumps = jumps
    .filter(
      ([t, from, to]) =>
        !(
          rs.tables
            .get(t)
            ?.chains.get(from)
            ?.rules.some((r) => target(r) === to) ?? false
        ),
    )
    .map(([t, from, to]) => `${t} ${from} -> ${to}`);
  return {
    detector,
    masqueradeAll,
    localhostNodePorts,
    localnetUnprotected: localhostNodePorts && !localnetDrop,
    missingJumps,
  };
}
