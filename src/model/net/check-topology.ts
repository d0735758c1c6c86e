// A topology from JSON (a file, or inline in a case file) checked field by field against
// spec/topology.schema.json, names against their grammar (names.ts) and addresses parsed:
// what comes out is a fresh, typed TopologySpec that holds nothing unchecked.
import { JsonChecker, type JsonPath } from '../json.ts';
import { parseIfAddr, parseCidr, parseIp } from '../ip.ts';
import { ifNameProblem, hostNameProblem } from './names.ts';
import type { TopologySpec, HostSpec, IfaceSpec, RouteSpec, ServerSpec, Sysctls, IfaceSysctls } from './topology.ts';

/** A lab makes one namespace per host and one agent in each: more is a mistake, not a test. */
export const MAX_HOSTS = 64;
const MAX_IFACES = 256;
const MAX_ADDRS = 64;
const MAX_ROUTES = 1024;
const MAX_SERVERS = 64;
const MAX_IPSET_LINES = 100000;

const SYSCTL_BOOLS = [
  'ip_forward',
  'route_localnet',
  'accept_local',
  'bridge_nf_call_iptables',
  'send_redirects',
  'accept_redirects',
  'arp_filter',
] as const;
/** the values the model reads of the sysctls that are not booleans (arp_ignore 3 to 7 are not modelled) */
export const SYSCTL_VALUES = {
  rp_filter: [0, 1, 2],
  arp_ignore: [0, 1, 2, 8],
  arp_announce: [0, 1, 2],
} as const;

/** One of a sysctl's modelled values, or a refusal naming its JSON path. */
function valueOf<K extends keyof typeof SYSCTL_VALUES>(
  j: JsonChecker,
  o: Record<string, unknown>,
  path: JsonPath,
  k: K,
): (typeof SYSCTL_VALUES)[K][number] {
  return j.oneOf(o[k], [...path, k], SYSCTL_VALUES[k]);
}

export const SYSCTL_KEYS: readonly (keyof Sysctls)[] = [...SYSCTL_BOOLS, 'rp_filter', 'arp_ignore', 'arp_announce'];

const hostName = (j: JsonChecker, v: unknown, path: JsonPath) =>
  j.str(v, path, { max: Infinity, grammar: hostNameProblem });
const ifName = (j: JsonChecker, v: unknown, path: JsonPath) =>
  j.str(v, path, { max: Infinity, grammar: ifNameProblem });

export function checkSysctls(j: JsonChecker, v: unknown, path: JsonPath): Partial<Sysctls> {
  const o = j.obj(v, path, SYSCTL_KEYS);
  const out: Partial<Sysctls> = {};
  for (const k of SYSCTL_BOOLS) if (o[k] !== undefined) out[k] = j.bool(o[k], [...path, k]);
  if (o.rp_filter !== undefined) out.rp_filter = valueOf(j, o, path, 'rp_filter');
  if (o.arp_ignore !== undefined) out.arp_ignore = valueOf(j, o, path, 'arp_ignore');
  if (o.arp_announce !== undefined) out.arp_announce = valueOf(j, o, path, 'arp_announce');
  return out;
}

const IFACE_SYSCTL_BOOLS = ['forwarding', 'route_localnet', 'accept_local', 'arp_filter'] as const;
export const IFACE_SYSCTL_KEYS: readonly (keyof IfaceSysctls)[] = [
  ...IFACE_SYSCTL_BOOLS,
  'rp_filter',
  'arp_ignore',
  'arp_announce',
];

/** One interface's sysctls (net.ipv4.conf.IFACE.*): topology.ts IfaceSysctls. */
export function checkIfaceSysctls(j: JsonChecker, v: unknown, path: JsonPath): Partial<IfaceSysctls> {
  const o = j.obj(v, path, IFACE_SYSCTL_KEYS);
  const out: Partial<IfaceSysctls> = {};
  for (const k of IFACE_SYSCTL_BOOLS) if (o[k] !== undefined) out[k] = j.bool(o[k], [...path, k]);
  if (o.rp_filter !== undefined) out.rp_filter = valueOf(j, o, path, 'rp_filter');
  if (o.arp_ignore !== undefined) out.arp_ignore = valueOf(j, o, path, 'arp_ignore');
  if (o.arp_announce !== undefined) out.arp_announce = valueOf(j, o, path, 'arp_announce');
  return out;
}

function checkIface(j: JsonChecker, v: unknown, path: JsonPath): IfaceSpec {
  const o = j.obj(v, path, ['name', 'addrs', 'peer', 'bridge', 'master', 'hairpin', 'sysctls']);
  const out: IfaceSpec = { name: ifName(j, o.name, [...path, 'name']) };
  if (o.addrs !== undefined)
    out.addrs = j.arr(o.addrs, [...path, 'addrs'], MAX_ADDRS).map((a, k) =>
      j.str(a, [...path, 'addrs', k], {
        grammar: (s) => (parseIfAddr(s) ? undefined : 'not an IPv4 interface address a.b.c.d/len'),
      }),
    );
  if (o.peer !== undefined) {
    const p = j.obj(o.peer, [...path, 'peer'], ['host', 'iface']);
    out.peer = {
      host: hostName(j, p.host, [...path, 'peer', 'host']),
      iface: ifName(j, p.iface, [...path, 'peer', 'iface']),
    };
  }
  if (o.bridge !== undefined) {
    if (o.bridge !== true) j.fail([...path, 'bridge'], 'must be true (or left out)');
    out.bridge = true;
  }
  if (o.master !== undefined) out.master = ifName(j, o.master, [...path, 'master']);
  if (o.hairpin !== undefined) out.hairpin = j.bool(o.hairpin, [...path, 'hairpin']);
  if (o.sysctls !== undefined) out.sysctls = checkIfaceSysctls(j, o.sysctls, [...path, 'sysctls']);
  return out;
}

function checkRoute(j: JsonChecker, v: unknown, path: JsonPath): RouteSpec {
  const o = j.obj(v, path, ['dst', 'via', 'dev']);
  const out: RouteSpec = {
    dst: j.str(o.dst, [...path, 'dst'], {
      grammar: (s) => (s === 'default' || parseCidr(s) ? undefined : 'not "default" or an IPv4 CIDR'),
    }),
  };
  if (o.via !== undefined)
    out.via = j.str(o.via, [...path, 'via'], {
      grammar: (s) => (parseIp(s) !== undefined ? undefined : 'not an IPv4 address'),
    });
  if (o.dev !== undefined) out.dev = ifName(j, o.dev, [...path, 'dev']);
  return out;
}

function checkServer(j: JsonChecker, v: unknown, path: JsonPath): ServerSpec {
  const o = j.obj(v, path, ['proto', 'port']);
  return {
    proto: j.oneOf(o.proto, [...path, 'proto'], ['tcp', 'udp'] as const),
    port: j.int(o.port, [...path, 'port'], 1, 65535),
  };
}

function checkHost(j: JsonChecker, v: unknown, path: JsonPath): HostSpec {
  const o = j.obj(v, path, ['name', 'ifaces', 'routes', 'sysctls', 'backend', 'servers', 'ipsets']);
  const out: HostSpec = {
    name: hostName(j, o.name, [...path, 'name']),
    ifaces: j.arr(o.ifaces, [...path, 'ifaces'], MAX_IFACES).map((x, k) => checkIface(j, x, [...path, 'ifaces', k])),
  };
  if (o.routes !== undefined)
    out.routes = j
      .arr(o.routes, [...path, 'routes'], MAX_ROUTES)
      .map((x, k) => checkRoute(j, x, [...path, 'routes', k]));
  if (o.sysctls !== undefined) out.sysctls = checkSysctls(j, o.sysctls, [...path, 'sysctls']);
  if (o.backend !== undefined) out.backend = j.oneOf(o.backend, [...path, 'backend'], ['nft', 'legacy'] as const);
  if (o.servers !== undefined)
    out.servers = j
      .arr(o.servers, [...path, 'servers'], MAX_SERVERS)
      .map((x, k) => checkServer(j, x, [...path, 'servers', k]));
  // `ipset save` lines: read in compileTopology (ipsets.ts), which names the line of a problem
  if (o.ipsets !== undefined)
    out.ipsets = j
      .arr(o.ipsets, [...path, 'ipsets'], MAX_IPSET_LINES)
      .map((x, k) => j.str(x, [...path, 'ipsets', k], { max: 1000 }));
  return out;
}

/** A topology as JSON gives it, checked; `path` is where it sits in its file (a case file's "topology"). */
export function checkTopology(raw: unknown, j: JsonChecker, path: JsonPath = []): TopologySpec {
  const o = j.obj(raw, path, ['$schema', 'name', 'hosts']);
  const name = j.str(o.name, [...path, 'name'], {
    max: 200,
    grammar: (s) => (/[\u0000-\u001f\u007f]/.test(s) ? 'control characters are not allowed' : undefined),
  });
  const hosts = j.arr(o.hosts, [...path, 'hosts'], MAX_HOSTS);
  if (hosts.length === 0) j.fail([...path, 'hosts'], 'a topology has at least one host');
  return { name, hosts: hosts.map((h, k) => checkHost(j, h, [...path, 'hosts', k])) };
}
