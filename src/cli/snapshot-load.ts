// `--snapshot FILE` (trace, validate): a snapshot file read and checked, and the model lab it describes.
import {
  InputError,
  loadJson,
  checkSnapshot,
  compileTopology,
  makeLab,
  parseRuleset,
  parseIp,
  parseIfAddr,
  maskOf,
  formatCidr,
  type IptablesFlavor,
  topologyFromSnapshots,
  nativeNftTables,
  type ModelLab,
  type Ruleset,
  type Snapshot,
  type SnapshotTopology,
} from '../model/index.ts';
import { readText } from './load.ts';
import { NFT_TABLE } from '../kube/compile-nft.ts';

/** the snapshot's own host in the topology built from it */
export const SNAPSHOT_HOST = 'node';

export function loadSnapshot(file: string): Snapshot {
  return loadJson(readText(file), file, (raw, j) => checkSnapshot(raw, j), 'the snapshot file');
}

export interface SnapshotLab {
  lab: ModelLab;
  built: SnapshotTopology;
}

/** The host of the snapshot and a synthesized neighbour on each link, with the snapshot's rules. */
export function snapshotLab(file: string, extraAddrs: readonly string[] = []): SnapshotLab {
  const snapshot = loadSnapshot(file);
  const built = topologyFromSnapshots([{ host: SNAPSHOT_HOST, snapshot }], {
    name: 'snapshot',
    extraAddrs: extraAddrs.filter((a) => parseIp(a) !== undefined),
  });
  const net = compileTopology(built.spec, file);
  const first = new Map<string, Ruleset>();
  const second = new Map<string, Ruleset>();
  for (const [host, rs] of built.rulesets) {
    first.set(host, parseRuleset(rs.text, { file: `${file}: iptables.${rs.backend}`, backend: rs.backend }));
    const other = rs.backend === 'nft' ? 'legacy' : 'nft';
    if (rs.other !== undefined)
      second.set(host, parseRuleset(rs.other, { file: `${file}: iptables.${other}`, backend: other }));
  }
  return { lab: makeLab(net, first, second), built };
}

/**
 * `--from` on a snapshot: a host of the built topology, an address (the host or neighbour that owns it:
 * snapshotLab gave each such address to the neighbour on its link), or an interface of the snapshot's
 * host (the neighbour behind it).
 */
export function snapshotSource(s: SnapshotLab, from: string): string {
  const net = s.lab.net;
  if (net.hosts.has(from)) return from;
  const ip = parseIp(from);
  if (ip !== undefined) {
    for (const h of net.hosts.values()) if (h.local.has(ip)) return h.name;
  }
  const iface = net.hosts.get(SNAPSHOT_HOST)?.ifaces.get(from);
  if (iface?.peer) return iface.peer.host;
  if (iface?.kind === 'bridge') {
    const port = [...net.hosts.get(SNAPSHOT_HOST)!.ifaces.values()].find((i) => i.master === from && i.peer);
    if (port?.peer) return port.peer.host;
  }
  throw new InputError(
    'invalid',
    `--from ${JSON.stringify(from)}: not a host (${[...net.hosts.keys()].join(', ')}), an` +
      ` address, or an interface of the snapshot's host with a neighbour`,
    { file: '<command line>', line: 1, col: 1 },
  );
}

export interface SnapshotNode {
  /** iptables-save text, or (a node whose nft holds kube-proxy's `ip kube-proxy` table: nftables mode) the
   *  native nft tables of its `nft list ruleset` */
  rulesetText: string;
  rulesetFile: string;
  /** the node's rules in the other language (its iptables rules beside kube-proxy's nft table, its native nft
   *  tables beside kube-proxy's iptables rules), if it has any */
  besides?: { text: string; file: string };
  backend: IptablesFlavor;
  /** the default route's interface's address first, then the other non-bridge addresses */
  nodeIps: string[];
  /** the first bridge's subnet (the pods' network behind it) */
  podCIDR?: string;
}

/** What `validate --snapshot` takes from a snapshot: the node's rules, addresses and pod network. */
export function snapshotNode(file: string): SnapshotNode {
  const snapshot = loadSnapshot(file);
  const built = topologyFromSnapshots([{ host: SNAPSHOT_HOST, snapshot }]);
  const host = built.spec.hosts.find((h) => h.name === SNAPSHOT_HOST)!;
  const rs = built.rulesets.get(SNAPSHOT_HOST)!;
  const def = host.routes?.find((r) => r.dst === 'default');
  const defDev = def?.dev ?? host.ifaces.find((i) => def?.via && i.addrs?.some((a) => sameNet(a, def.via!)))?.name;
  const plain = host.ifaces.filter((i) => !i.bridge && i.addrs?.length);
  plain.sort((a, b) => Number(b.name === defDev) - Number(a.name === defDev));
  const nodeIps = plain.flatMap((i) => (i.addrs ?? []).map((a) => a.split('/')[0]!));
  const bridge = host.ifaces.find((i) => i.bridge && i.addrs?.length);
  // kube-proxy's nftables mode: its table judged as an nft dump (spec/snapshot.md "nftables")
  const native = nativeNftTables(snapshot);
  const nftMode = native?.tables.includes(`ip ${NFT_TABLE}`) === true;
  const xtFile = `${file}: iptables.${rs.backend}`;
  const out: SnapshotNode = {
    rulesetText: nftMode ? native!.text : rs.text,
    rulesetFile: nftMode ? `${file}: nft` : xtFile,
    backend: rs.backend,
    nodeIps,
  };
  // both kinds on one node (a CNI's iptables rules beside kube-proxy's nft table, a firewall's nft table beside
  // its iptables rules): the other kind is evaluated beside the dump (spec/snapshot.md "nftables")
  if (nftMode && /^(\[\d+:\d+\] )?-A |^:\S+ DROP/m.test(rs.text)) out.besides = { text: rs.text, file: xtFile };
  if (!nftMode && native) out.besides = { text: native.text, file: `${file}: nft` };
  const b = bridge?.addrs?.[0] ? parseIfAddr(bridge.addrs[0]) : undefined;
  if (b) out.podCIDR = formatCidr({ addr: (b.ip & maskOf(b.len)) >>> 0, len: b.len });
  return out;
}

function sameNet(ifAddr: string, ip: string): boolean {
  const a = parseIfAddr(ifAddr);
  const b = parseIp(ip);
  return a !== undefined && b !== undefined && ((a.ip ^ b) & maskOf(a.len)) >>> 0 === 0;
}
