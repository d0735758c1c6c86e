// Topologies as data: hosts (network namespaces), veth pairs, bridges, routes
// and sysctls (spec/semantics.md §1). JSON-serialisable: topology files use this shape.
import { InputError } from '../errors.ts';
import { parseIfAddr, parseCidr, parseIp, type IfAddr, type Cidr, type U32 } from '../ip.ts';
import type { IptablesFlavor } from '../rules/types.ts';

export interface Sysctls {
  ip_forward: boolean;
  route_localnet: boolean;
  /** 0 off, 1 strict, 2 loose */
  rp_filter: 0 | 1 | 2;
  accept_local: boolean;
  bridge_nf_call_iptables: boolean;
  send_redirects: boolean;
  accept_redirects: boolean;
}

export const DEFAULT_SYSCTLS: Sysctls = {
  ip_forward: false,
  route_localnet: false,
  rp_filter: 0,
  accept_local: false,
  bridge_nf_call_iptables: true,
  send_redirects: false,
  accept_redirects: false,
};

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

export function compileTopology(spec: TopologySpec, file = '<topology>'): Network {
  const fail = (reason: string): never => {
    throw new InputError('invalid', `topology ${spec.name}: ${reason}`, { file, line: 1, col: 1 });
  };
  const hosts = new Map<string, Host>();
  for (const h of spec.hosts) {
    if (hosts.has(h.name)) fail(`host ${h.name} is defined twice`);
    const ifaces = new Map<string, Iface>();
    ifaces.set('lo', { name: 'lo', host: h.name, addrs: [{ ip: 0x7f000001, len: 8 }], kind: 'lo', hairpin: false });
    const local = new Map<U32, string>([[0x7f000001, 'lo']]);
    for (const i of h.ifaces) {
      if (ifaces.has(i.name)) fail(`interface ${h.name}/${i.name} is defined twice`);
      const addrs = (i.addrs ?? []).map((a) => parseIfAddr(a) ?? fail(`bad address "${a}" on ${h.name}/${i.name}`));
      for (const a of addrs) local.set(a.ip, i.name);
      const iface: Iface = {
        name: i.name,
        host: h.name,
        addrs,
        kind: i.bridge ? 'bridge' : 'veth',
        hairpin: i.hairpin ?? false,
      };
      if (i.peer) iface.peer = i.peer;
      if (i.master) iface.master = i.master;
      ifaces.set(i.name, iface);
    }
    const routes: Route[] = [];
    for (const i of ifaces.values()) {
      if (i.kind === 'lo' || i.master) continue;
      for (const a of i.addrs) {
        const dst = parseCidr(`${ipStr(a.ip)}/${a.len}`)!;
        routes.push({ dst, dev: i.name, connected: true });
      }
    }
    for (const r of h.routes ?? []) {
      const dst =
        r.dst === 'default'
          ? { addr: 0, len: 0 }
          : (parseCidr(r.dst) ?? fail(`bad route destination "${r.dst}" on ${h.name}`));
      const via = r.via === undefined ? undefined : (parseIp(r.via) ?? fail(`bad gateway "${r.via}" on ${h.name}`));
      let dev = r.dev;
      if (!dev && via !== undefined)
        dev = routes.find((c) => c.connected && (via & maskOf(c.dst.len)) >>> 0 === c.dst.addr)?.dev;
      if (!dev) fail(`route ${r.dst} on ${h.name}: gateway ${r.via ?? '?'} is not on a connected network`);
      const route: Route = { dst, dev: dev!, connected: false };
      if (via !== undefined) route.via = via;
      routes.push(route);
    }
    routes.sort((a, b) => b.dst.len - a.dst.len);
    hosts.set(h.name, {
      name: h.name,
      ifaces,
      routes,
      local,
      sysctls: { ...DEFAULT_SYSCTLS, ...h.sysctls },
      backend: h.backend ?? 'nft',
      servers: h.servers ?? STANDARD_SERVERS,
    });
  }
  for (const h of hosts.values()) {
    for (const i of h.ifaces.values()) {
      if (i.kind === 'veth') {
        if (!i.peer) fail(`${h.name}/${i.name} is a veth without a peer`);
        const other = hosts.get(i.peer!.host)?.ifaces.get(i.peer!.iface);
        if (!other || other.peer?.host !== h.name || other.peer.iface !== i.name)
          fail(`${h.name}/${i.name}: peer ${i.peer!.host}/${i.peer!.iface} does not point back`);
      }
      if (i.master && h.ifaces.get(i.master)?.kind !== 'bridge')
        fail(`${h.name}/${i.name}: master ${i.master} is not a bridge`);
    }
  }
  return { name: spec.name, hosts };
}

function ipStr(a: U32): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
function maskOf(len: number): U32 {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}
