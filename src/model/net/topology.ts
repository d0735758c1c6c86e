// Topologies as data: hosts (network namespaces), veth pairs, bridges, routes
// and sysctls (spec/semantics.md §1). JSON-serialisable: topology files use this shape.
import { quote } from '../errors.ts';
import { JsonChecker, type JsonPath } from '../json.ts';
import { checkTopology } from './check-topology.ts';
import { parseIfAddr, parseCidr, parseIp, type IfAddr, type Cidr, type U32 } from '../ip.ts';
import type { IptablesFlavor } from '../rules/types.ts';
import { parseIpsets, type Ipset } from './ipsets.ts';

export interface Sysctls {
  ip_forward: boolean;
  route_localnet: boolean;
  /** 0 off, 1 strict, 2 loose */
  rp_filter: 0 | 1 | 2;
  accept_local: boolean;
  bridge_nf_call_iptables: boolean;
  send_redirects: boolean;
  accept_redirects: boolean;
  /** arp_ignore (net/ipv4/arp.c arp_ignore): 0 any local address, 1 only the receiving device's, 2 that and the
   *  sender on its subnet, 8 none. The ARP sysctls here are conf.all's (and default's): an interface's own
   *  (IfaceSysctls) may only raise them */
  arp_ignore: 0 | 1 | 2 | 8;
  /** arp_announce (arp_solicit): 0 the queued packet's local source, 1 only when on-link with the target, 2 never */
  arp_announce: 0 | 1 | 2;
  /** arp_filter (arp_filter): answer only when the route back to the sender leaves by the receiving device */
  arp_filter: boolean;
}

export const DEFAULT_SYSCTLS: Sysctls = {
  ip_forward: false,
  route_localnet: false,
  rp_filter: 0,
  accept_local: false,
  bridge_nf_call_iptables: true,
  send_redirects: false,
  accept_redirects: false,
  arp_ignore: 0,
  arp_announce: 0,
  arp_filter: false,
};

/**
 * Settings of one interface (net.ipv4.conf.IFACE.*), over the host's: `forwarding` alone decides whether a
 * packet received on the interface is forwarded (IN_DEV_FORWARD; ip_forward writes every interface's),
 * rp_filter is the larger of conf.all (0 in a lab) and the interface's (IN_DEV_MAXCONF), route_localnet
 * and accept_local hold when conf.all (the host's value) or the interface's is on (IN_DEV_ORCONF).
 * The ARP ones, with conf.all the host's value (include/linux/inetdevice.h): arp_ignore and arp_announce
 * are the larger of the two (IN_DEV_ARP_IGNORE, IN_DEV_ARP_ANNOUNCE: IN_DEV_MAXCONF), arp_filter holds
 * when either is on (IN_DEV_ARPFILTER: IN_DEV_ORCONF); arp_ignore and arp_filter are read for the device an
 * ARP request is received on (arp_process), arp_announce for the device the request is sent out of
 * (arp_solicit).
 */
export interface IfaceSysctls {
  forwarding: boolean;
  rp_filter: 0 | 1 | 2;
  route_localnet: boolean;
  accept_local: boolean;
  arp_ignore: 0 | 1 | 2 | 8;
  arp_announce: 0 | 1 | 2;
  arp_filter: boolean;
}

export interface IfaceSpec {
  name: string;
  /** "a.b.c.d/len" */
  addrs?: string[];
  /** a veth end: the other end's host and interface */
  peer?: { host: string; iface: string };
  /** a bridge device itself */
  bridge?: true;
  /** this veth end is a port of that bridge on the same host */
  master?: string;
  /** bridge port hairpin mode */
  hairpin?: boolean;
  /** this interface's own sysctls, where they differ from the host's */
  sysctls?: Partial<IfaceSysctls>;
}

export interface RouteSpec {
  /** "default" or a CIDR */
  dst: string;
  via?: string;
  dev?: string;
}

export interface ServerSpec {
  proto: 'tcp' | 'udp';
  port: number;
}

export interface HostSpec {
  name: string;
  ifaces: IfaceSpec[];
  routes?: RouteSpec[];
  sysctls?: Partial<Sysctls>;
  backend?: IptablesFlavor;
  servers?: ServerSpec[];
  /** ipset state, as `ipset save` prints it (create/add lines): loaded with `ipset restore` before any rule */
  ipsets?: string[];
}

export interface TopologySpec {
  name: string;
  hosts: HostSpec[];
}

// ---- compiled form, used by the packet path

export interface Iface {
  name: string;
  host: string;
  addrs: IfAddr[];
  kind: 'lo' | 'veth' | 'bridge';
  peer?: { host: string; iface: string };
  master?: string;
  hairpin: boolean;
  /** the settings in force for packets received on (or, route_localnet, sent out of) this interface */
  conf: IfaceSysctls;
}

export interface Route {
  dst: Cidr;
  via?: U32;
  dev: string;
  /** connected routes are scope link */
  connected: boolean;
}

export interface Host {
  name: string;
  ifaces: Map<string, Iface>;
  /** longest prefix first */
  routes: Route[];
  sysctls: Sysctls;
  backend: IptablesFlavor;
  servers: ServerSpec[];
  /** address -> interface that owns it */
  local: Map<U32, string>;
  /** ipsets by name (spec/modules.md: set) */
  ipsets: Map<string, Ipset>;
}

export interface Network {
  name: string;
  hosts: Map<string, Host>;
}

export const STANDARD_SERVERS: ServerSpec[] = [
  { proto: 'tcp', port: 8080 },
  { proto: 'tcp', port: 9090 },
  { proto: 'udp', port: 8080 },
  { proto: 'udp', port: 9090 },
];

/**
 * The packet path's form of a topology. The spec is checked first (check-topology.ts: shapes,
 * name grammar, addresses), then its parts against each other; every refusal names the JSON path
 * (below `path`, where the topology sits in its file).
 */
export function compileTopology(input: TopologySpec, file = '<topology>', path: JsonPath = []): Network {
  const j: JsonChecker = new JsonChecker(file);
  const spec = checkTopology(input, j, path);
  const at = (...p: (string | number)[]) => [...path, 'hosts', ...p];
  const hosts = new Map<string, Host>();
  const index = new Map<string, number>();
  spec.hosts.forEach((h, hi) => {
    if (hosts.has(h.name)) j.fail(at(hi, 'name'), `host ${quote(h.name)} is defined twice`);
    index.set(h.name, hi);
    const ifaces = new Map<string, Iface>();
    const hostSys: Sysctls = { ...DEFAULT_SYSCTLS, ...h.sysctls };
    ifaces.set('lo', {
      name: 'lo',
      host: h.name,
      addrs: [{ ip: 0x7f000001, len: 8 }],
      kind: 'lo',
      hairpin: false,
      conf: ifaceConf(hostSys, undefined),
    });
    const local = new Map<U32, string>([[0x7f000001, 'lo']]);
    h.ifaces.forEach((i, ii) => {
      if (ifaces.has(i.name)) j.fail(at(hi, 'ifaces', ii, 'name'), `interface ${quote(i.name)} is defined twice`);
      if (i.bridge && (i.peer || i.master))
        j.fail(at(hi, 'ifaces', ii), 'a bridge has no "peer" or "master" (a bridge inside a bridge is not modelled)');
      const addrs = (i.addrs ?? []).map((a) => parseIfAddr(a)!);
      for (const a of addrs) local.set(a.ip, i.name);
      const iface: Iface = {
        name: i.name,
        host: h.name,
        addrs,
        kind: i.bridge ? 'bridge' : 'veth',
        hairpin: i.hairpin ?? false,
        conf: ifaceConf(hostSys, i.sysctls),
      };
      if (i.peer) iface.peer = i.peer;
      if (i.master) iface.master = i.master;
      ifaces.set(i.name, iface);
    });
    const routes: Route[] = [];
    for (const i of ifaces.values()) {
      if (i.kind === 'lo' || i.master) continue;
      for (const a of i.addrs) {
        const dst = parseCidr(`${ipStr(a.ip)}/${a.len}`)!;
        routes.push({ dst, dev: i.name, connected: true });
      }
    }
    (h.routes ?? []).forEach((r, ri) => {
      const dst = r.dst === 'default' ? { addr: 0, len: 0 } : parseCidr(r.dst)!;
      const via = r.via === undefined ? undefined : parseIp(r.via)!;
      let dev = r.dev;
      if (dev !== undefined && !ifaces.has(dev))
        j.fail(at(hi, 'routes', ri, 'dev'), `no interface ${quote(dev)} on host ${quote(h.name)}`);
      if (!dev && via !== undefined)
        dev = routes.find((c) => c.connected && (via & maskOf(c.dst.len)) >>> 0 === c.dst.addr)?.dev;
      if (!dev)
        j.fail(
          at(hi, 'routes', ri),
          via === undefined
            ? 'a route needs "via" or "dev"'
            : `gateway ${quote(r.via)} is not on a connected network of ${quote(h.name)}`,
        );
      const route: Route = { dst, dev, connected: false };
      if (via !== undefined) route.via = via;
      routes.push(route);
    });
    routes.sort((a, b) => b.dst.len - a.dst.len);
    const ipsets = parseIpsets(h.ipsets ?? []);
    if (!(ipsets instanceof Map)) j.fail(at(hi, 'ipsets', ipsets.line - 1), ipsets.error);
    hosts.set(h.name, {
      ipsets,
      name: h.name,
      ifaces,
      routes,
      local,
      sysctls: hostSys,
      backend: h.backend ?? 'nft',
      servers: h.servers ?? STANDARD_SERVERS,
    });
  });
  for (const h of hosts.values()) {
    const hi = index.get(h.name)!;
    const specIfaces = spec.hosts[hi]!.ifaces;
    for (const i of h.ifaces.values()) {
      const ii = specIfaces.findIndex((x) => x.name === i.name);
      if (i.kind === 'veth') {
        if (!i.peer) j.fail(at(hi, 'ifaces', ii), `${quote(i.name)} is a veth without a peer (or "bridge": true)`);
        const other = hosts.get(i.peer.host)?.ifaces.get(i.peer.iface);
        if (!other || other.peer?.host !== h.name || other.peer.iface !== i.name)
          j.fail(at(hi, 'ifaces', ii, 'peer'), `peer ${quote(`${i.peer.host}/${i.peer.iface}`)} does not point back`);
      }
      if (i.master && h.ifaces.get(i.master)?.kind !== 'bridge')
        j.fail(at(hi, 'ifaces', ii, 'master'), `${quote(i.master)} is not a bridge on ${quote(h.name)}`);
    }
  }
  return { name: spec.name, hosts };
}

/** The interface's settings in force, from the host's and its own (the kernel's IN_DEV_* rules above). */
export function ifaceConf(host: Sysctls, own: Partial<IfaceSysctls> | undefined): IfaceSysctls {
  return {
    forwarding: own?.forwarding ?? host.ip_forward,
    rp_filter: own?.rp_filter ?? host.rp_filter,
    route_localnet: host.route_localnet || (own?.route_localnet ?? false),
    accept_local: host.accept_local || (own?.accept_local ?? false),
    // max(all, IF) and all || IF: an interface may raise the host's, never lower it
    arp_ignore: Math.max(host.arp_ignore, own?.arp_ignore ?? 0) as IfaceSysctls['arp_ignore'],
    arp_announce: Math.max(host.arp_announce, own?.arp_announce ?? 0) as IfaceSysctls['arp_announce'],
    arp_filter: host.arp_filter || (own?.arp_filter ?? false),
  };
}

/** The settings of `ifName` on `h` (the host's own for a name it lacks). */
export function confOf(h: Host, ifName: string): IfaceSysctls {
  return h.ifaces.get(ifName)?.conf ?? ifaceConf(h.sysctls, undefined);
}

function ipStr(a: U32): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
function maskOf(len: number): U32 {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}
