// A topology from host snapshots (spec/snapshot.md "From a snapshot to a topology"): each snapshot is a
// host; veth pairs between snapshots are joined (each end names the other's ifindex); every other link
// gets a synthesized neighbour (a pod behind a bridge port, the gateway behind a route's next hop, a
// peer on a point-to-point link), so that probes from an address or an interface can run. Pure.
import { parseCidr, parseIp, parseIfAddr, formatIp, maskOf, type U32 } from '../ip.ts';
import { InputError } from '../errors.ts';
import type { IptablesFlavor } from '../rules/types.ts';
import { ifNameProblem, hostNameProblem } from './names.ts';
import type { Snapshot } from './snapshot.ts';
import type { HostSpec, IfaceSpec, RouteSpec, TopologySpec } from './topology.ts';
import { readLinks, readRoutes, readSysctls, extraRules, type SnapLink } from './read-snapshot.ts';

export interface HostSnapshot {
  /** the host's name in the topology */
  host: string;
  snapshot: Snapshot;
}

export interface SnapshotRulesets {
  /** the backend the host's rules are read with (the one holding tables; nft when both or neither) */
  backend: IptablesFlavor;
  text: string;
  /** the other backend's tables, when it holds some too (both are evaluated: spec/semantics.md §2.3) */
  other?: string;
}

export interface SnapshotTopology {
  spec: TopologySpec;
  rulesets: Map<string, SnapshotRulesets>;
  /** neighbour host -> what it stands for ("pod behind cni0 port veth1", ...) */
  synthesized: Map<string, string>;
  /** what the model leaves out or approximates, one line each */
  notes: string[];
}

export interface FromSnapshotOptions {
  name?: string;
  /** addresses a probe will come from: each is given to the neighbour on its link (or behind its route) */
  extraAddrs?: readonly string[];
}

const bad = (reason: string) => new InputError('invalid', reason, { file: '<snapshot>', line: 0, col: 0 });
const hasTables = (t: string | null): t is string => t !== null && /^\*/m.test(t);

interface Link {
  host: string;
  link: SnapLink;
}

export function topologyFromSnapshots(
  inputs: readonly HostSnapshot[],
  opts: FromSnapshotOptions = {},
): SnapshotTopology {
  const notes: string[] = [];
  const hosts: HostSpec[] = [];
  const rulesets = new Map<string, SnapshotRulesets>();
  const synthesized = new Map<string, string>();
  const used = new Set<U32>();
  const names = new Set(inputs.map((i) => i.host));
  const links = new Map<string, SnapLink[]>();
  for (const { host, snapshot } of inputs) {
    const why = hostNameProblem(host);
    if (why) throw bad(`host name ${JSON.stringify(host)}: ${why}`);
    const kept: SnapLink[] = [];
    for (const l of readLinks(snapshot)) {
      if (l.name === 'lo') continue;
      const bad = ifNameProblem(l.name);
      if (bad) notes.push(`${host}: interface ${JSON.stringify(l.name)} left out (${bad})`);
      else if (!l.up) notes.push(`${host}: interface ${l.name} is down, left out`);
      else kept.push(l);
    }
    for (const l of kept) for (const a of l.addrs) used.add(a.ip);
    links.set(host, kept);
  }
  // veth pairs across snapshots: A's link_index is B's ifindex and back, each pairing unique
  const peerOf = new Map<string, Link>();
  const key = (h: string, i: string) => `${h}/${i}`;
  const subnetsOf = (e: Link) => {
    const own = links.get(e.host)!;
    const bridge =
      e.link.master !== undefined ? own.find((l) => l.name === e.link.master && l.kind === 'bridge') : undefined;
    return (bridge ?? e.link).addrs;
  };
  const vethEnds: Link[] = [...links].flatMap(([host, ls]) =>
    ls.filter((l) => l.kind === 'veth' && l.linkIndex !== undefined).map((link) => ({ host, link })),
  );
  for (const a of vethEnds) {
    const cands = vethEnds.filter(
      (b) => b.host !== a.host && b.link.ifindex === a.link.linkIndex && b.link.linkIndex === a.link.ifindex,
    );
    // ifindexes are per namespace and often collide (every pod's eth0 may be 2): among several ends that
    // fit, the one sharing a subnet with this end (or with its bridge) is the peer
    const fit = cands.length > 1 ? cands.filter((b) => sharesSubnet(subnetsOf(a), subnetsOf(b))) : cands;
    if (fit.length === 1) peerOf.set(key(a.host, a.link.name), fit[0]!);
    else if (cands.length > 1)
      notes.push(
        `${a.host}/${a.link.name}: its veth peer is ambiguous` +
          ` (${cands.map((c) => key(c.host, c.link.name)).join(', ')}); a neighbour is synthesized` +
          ` instead`,
      );
  }
  const freeIn = (net: U32, len: number): U32 | undefined => {
    const size = len >= 31 ? 2 ** (32 - len) : 2 ** (32 - len) - 2;
    const first = len >= 31 ? net : net + 1;
    for (let k = 0; k < Math.min(size, 65536); k++) {
      const a = (first + k) >>> 0;
      if (!used.has(a)) return a;
    }
    return undefined;
  };
  const unique = (base: string) => {
    let n = base.slice(0, 60);
    for (let k = 2; names.has(n); k++) n = `${base.slice(0, 56)}-${k}`;
    names.add(n);
    return n;
  };
  const extra = (opts.extraAddrs ?? []).map((a) => {
    const ip = parseIp(a);
    if (ip === undefined) throw bad(`${JSON.stringify(a)} is not an IPv4 address`);
    return ip;
  });
  const pending = new Set(extra.filter((a) => !used.has(a)));

  for (const { host, snapshot } of inputs) {
    const kept = links.get(host)!;
    const bridges = new Set(kept.filter((l) => l.kind === 'bridge').map((l) => l.name));
    const routes: RouteSpec[] = [];
    const snapRoutes = readRoutes(snapshot);
    for (const r of snapRoutes) {
      if (r.protocol === 'kernel') continue; // connected routes: compileTopology derives them from the addresses
      if (r.type !== 'unicast') {
        notes.push(`${host}: route ${r.type} ${r.dst} left out (only unicast routes are modelled)`);
        continue;
      }
      const dst = r.dst === 'default' ? 'default' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
      if (dst !== 'default' && !parseCidr(dst)) {
        notes.push(`${host}: route ${r.dst} left out (not IPv4)`);
        continue;
      }
      if (r.dev !== undefined && !kept.some((l) => l.name === r.dev)) {
        notes.push(`${host}: route ${r.dst} dev ${r.dev} left out (no such interface up)`);
        continue;
      }
      const out: RouteSpec = { dst };
      if (r.via) out.via = r.via;
      if (r.dev) out.dev = r.dev;
      routes.push(out);
    }
    for (const x of extraRules(snapshot)) notes.push(`${host}: policy rule ${x} not modelled (main table only)`);
    const ifaces: IfaceSpec[] = [];
    for (const l of kept) {
      const addrs = l.addrs.map((a) => `${formatIp(a.ip)}/${a.len}`);
      if (l.kind === 'bridge') {
        ifaces.push({ name: l.name, bridge: true, ...(addrs.length ? { addrs } : {}) });
        continue;
      }
      const spec: IfaceSpec = { name: l.name, ...(addrs.length ? { addrs } : {}) };
      const port = l.master !== undefined && bridges.has(l.master);
      if (l.master !== undefined && !port)
        notes.push(`${host}: ${l.name}'s master ${l.master} is not a bridge; modelled as a plain link`);
      if (port) {
        spec.master = l.master!;
        spec.hairpin = l.hairpin;
        delete spec.addrs;
      }
      if (l.kind !== 'veth' && l.kind !== undefined && !port)
        notes.push(`${host}: ${l.name} (${l.kind}) is modelled as a point-to-point link to one synthesized neighbour`);
      const peer = peerOf.get(key(host, l.name));
      if (peer) {
        spec.peer = { host: peer.host, iface: peer.link.name };
        ifaces.push(spec);
        continue;
      }
      // a synthesized neighbour: its subnet is the bridge's (port) or the link's own
      const subnetOwner = port ? kept.find((b) => b.name === l.master)! : l;
      const nets = subnetOwner.addrs;
      const nb = unique(`${host}-${port ? 'pod' : 'nb'}-${l.name}`);
      const nbAddrs: string[] = [];
      const nbRoutes: RouteSpec[] = [];
      const onNet = (a: U32) => nets.some((n) => ((a ^ n.ip) & maskOf(n.len)) >>> 0 === 0);
      // the gateways the host's routes name on this link become this neighbour's addresses
      const gws = port
        ? []
        : snapRoutes
            .filter((r) => r.via && (r.dev === l.name || (r.dev === undefined && onNet(parseIp(r.via) ?? 0))))
            .map((r) => parseIp(r.via!)!)
            .filter((a, i, all) => a !== undefined && all.indexOf(a) === i && !used.has(a));
      for (const g of gws) {
        used.add(g);
        const n = nets.find((x) => ((g ^ x.ip) & maskOf(x.len)) >>> 0 === 0);
        nbAddrs.push(`${formatIp(g)}/${n?.len ?? 32}`);
      }
      // /32 routes "dev IF" without a gateway (Calico-style pods): the neighbour owns those addresses
      for (const r of snapRoutes)
        if (
          r.dev === l.name &&
          !r.via &&
          r.protocol !== 'kernel' &&
          r.dst.endsWith('/32') === false &&
          !r.dst.includes('/')
        ) {
          const a = parseIp(r.dst.replace(/\/32$/, ''));
          if (a !== undefined && !used.has(a)) {
            used.add(a);
            nbAddrs.push(`${formatIp(a)}/32`);
          }
        }
      for (const a of [...pending])
        if (onNet(a)) {
          pending.delete(a);
          used.add(a);
          const n = nets.find((x) => ((a ^ x.ip) & maskOf(x.len)) >>> 0 === 0)!;
          nbAddrs.push(`${formatIp(a)}/${n.len}`);
        }
      if (!nbAddrs.length && nets[0]) {
        const net = (nets[0].ip & maskOf(nets[0].len)) >>> 0;
        const a = freeIn(net, nets[0].len);
        if (a !== undefined) {
          used.add(a);
          nbAddrs.push(`${formatIp(a)}/${nets[0].len}`);
        }
      }
      const back = nets[0];
      if (back) nbRoutes.push({ dst: 'default', via: formatIp(back.ip) });
      else nbRoutes.push({ dst: 'default', dev: 'eth0' });
      spec.peer = { host: nb, iface: 'eth0' };
      ifaces.push(spec);
      synthesized.set(
        nb,
        port ? `a pod behind ${host}'s bridge ${l.master} port ${l.name}` : `the neighbour on ${host}'s ${l.name}`,
      );
      hosts.push({
        name: nb,
        ifaces: [{ name: 'eth0', ...(nbAddrs.length ? { addrs: nbAddrs } : {}), peer: { host, iface: l.name } }],
        routes: nbRoutes,
        sysctls: { ip_forward: false, rp_filter: 0, send_redirects: false, accept_redirects: false },
      });
    }
    const nft = snapshot.iptables.nft;
    const legacy = snapshot.iptables.legacy;
    const backend: IptablesFlavor = hasTables(nft) || !hasTables(legacy) ? 'nft' : 'legacy';
    const text = (backend === 'nft' ? nft : legacy) ?? '';
    const other = backend === 'nft' ? legacy : nft;
    const rs: SnapshotRulesets = { backend, text };
    if (hasTables(other)) {
      rs.other = other;
      notes.push(
        `${host}: rules in both iptables backends; the order they were loaded in is not recorded,` +
          ` the model takes ${backend === 'nft' ? 'legacy' : 'nft'}'s as loaded last` +
          ` (spec/semantics.md §2.3)`,
      );
    }
    if (snapshot.ipset !== null && /^create /m.test(snapshot.ipset))
      notes.push(`${host}: ipset sets present; the model does not read them (rules matching sets are unsupported)`);
    if (nft === null && legacy === null) notes.push(`${host}: no iptables-save output (iptables absent): no rules`);
    // listening sockets are not read (no process or socket list): the host answers as a lab host does
    notes.push(
      `${host}: its listening sockets are not read; the model assumes the standard servers (tcp and udp 8080, 9090)`,
    );
    rulesets.set(host, rs);
    const sys = readSysctls(
      snapshot,
      kept.map((l) => l.name),
      notes,
    );
    // each interface's own settings, where they differ from the host's (read-snapshot.ts)
    for (const i of ifaces) {
      const own = sys.ifaces.get(i.name);
      if (own) i.sysctls = { ...i.sysctls, ...own };
    }
    hosts.unshift({ name: host, ifaces, routes, sysctls: sys.host, backend });
  }
  // an address on no link: the neighbour the host's route to it leads to owns it, as a /32
  for (const a of pending) {
    const nb = routeNeighbour(hosts, synthesized, a);
    if (!nb) throw bad(`no route from the snapshot's host to ${formatIp(a)}, nor a link it lies on`);
    nb.ifaces[0]!.addrs = [...(nb.ifaces[0]!.addrs ?? []), `${formatIp(a)}/32`];
  }
  return { spec: { name: opts.name ?? 'snapshot', hosts }, rulesets, synthesized, notes };
}

function sharesSubnet(a: readonly { ip: U32; len: number }[], b: readonly { ip: U32; len: number }[]): boolean {
  return a.some((x) => b.some((y) => ((x.ip ^ y.ip) & maskOf(Math.min(x.len, y.len))) >>> 0 === 0));
}

/** The synthesized neighbour that a snapshot host's longest matching route leads to. */
function routeNeighbour(hosts: HostSpec[], synthesized: Map<string, string>, a: U32): HostSpec | undefined {
  let best: { len: number; nb: HostSpec } | undefined;
  for (const h of hosts) {
    if (synthesized.has(h.name)) continue;
    for (const r of h.routes ?? []) {
      const c = r.dst === 'default' ? { addr: 0, len: 0 } : parseCidr(r.dst);
      if (!c || ((a ^ c.addr) & maskOf(c.len)) >>> 0 !== 0 || (best && best.len >= c.len)) continue;
      const dev =
        r.dev ??
        h.ifaces.find((i) =>
          (i.addrs ?? []).some((x) => {
            const ci = parseIfAddr(x);
            const via = r.via ? parseIp(r.via) : undefined;
            return ci && via !== undefined && ((via ^ ci.ip) & maskOf(ci.len)) >>> 0 === 0;
          }),
        )?.name;
      const iface = h.ifaces.find((i) => i.name === dev);
      const nb =
        iface?.peer && synthesized.has(iface.peer.host) ? hosts.find((x) => x.name === iface.peer!.host) : undefined;
      if (nb) best = { len: c.len, nb };
    }
  }
  return best?.nb;
}
