// The lab that stands in for a node whose dump `validate` judges (spec/kube.md §6): the node with
// its addresses, its local endpoints as pods on a bridge, a pod that is no endpoint, an outside
// client, and one host holding every endpoint of other nodes.
import {
  InputError,
  parseIp,
  parseCidr,
  formatIp,
  cidrContains,
  type TopologySpec,
  type HostSpec,
} from '../model/index.ts';
import type { Cluster } from './objects.ts';
import { resolve, reachableEndpoints } from './endpoints.ts';
import type { ClusterLayout } from './oracle.ts';

export const POD_CLIENT = 'pod-client';
export const OUTSIDE = 'client';
export const REMOTE = 'remote';
/** holds every Service address: what the node fails to intercept is answered there */
export const UPSTREAM = 'upstream';
const CMDLINE = { file: '<command line>', line: 1, col: 1 };

export interface NodeLabOptions {
  cluster: Cluster;
  nodeName: string;
  /** the node's addresses, primary first */
  nodeIps: string[];
  /** the subnet of the node's pods (its bridge) */
  podCIDR: string;
  /** the bridge's name: the dump's detector may name it (-i cni0) or a prefix of it (-i cali+ : cali0) */
  bridge?: string;
  /** how the node's detector tells pod traffic: by source CIDR, by the pod interfaces, or not at all */
  podTraffic: { cidr: string } | 'interface' | 'none';
  routeLocalnet: boolean;
}

/** The lab that matches the node: the node, its local endpoints as pods on cni0, a pod that is no endpoint,
 *  an outside client on the primary network, and one host holding every endpoint of other nodes. */
export function buildNodeLab(o: NodeLabOptions): { topo: TopologySpec; layout: ClusterLayout } {
  const { cluster, nodeName, nodeIps, podCIDR, routeLocalnet } = o;
  const bridge = o.bridge ?? 'cni0';
  const ports = resolve(cluster, nodeName);
  const pod = parseCidr(podCIDR)!;
  const eps = new Map<string, boolean>(); // ip -> local
  for (const rp of ports) for (const e of reachableEndpoints(rp)) eps.set(e.ip, e.isLocal);
  const serverPorts = [...new Set(ports.flatMap((rp) => reachableEndpoints(rp).map((e) => e.port)))];
  const servers = ports
    .flatMap((rp) =>
      reachableEndpoints(rp).map((e) => ({
        proto: rp.port.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const),
        port: e.port,
      })),
    )
    .filter((s, i, all) => all.findIndex((x) => x.proto === s.proto && x.port === s.port) === i);
  if (servers.length === 0) servers.push({ proto: 'tcp', port: 8080 });
  const used = new Set([...eps.keys(), ...nodeIps]);
  const freeIn = (c: { addr: number; len: number }, from: 'low' | 'high') => {
    const size = 2 ** (32 - c.len);
    for (let k = 1; k < size - 1; k++) {
      const a = formatIp((c.addr + (from === 'low' ? k : size - 1 - k)) >>> 0);
      if (!used.has(a)) {
        used.add(a);
        return a;
      }
    }
    throw new InputError('invalid', `no free address left in ${formatIp(c.addr)}/${c.len}`, CMDLINE);
  };
  const gateway = freeIn(pod, 'low');
  const off = { ip_forward: false, rp_filter: 0 as const, send_redirects: false, accept_redirects: false };
  const primary = parseCidr(`${nodeIps[0]}/24`)!;
  const clientIp = freeIn(primary, 'high');
  const localPods = [...eps]
    .filter(([ip, local]) => local && cidrContains(pod, parseIp(ip)!) && !nodeIps.includes(ip))
    .map(([ip]) => ip);
  const remote = [...eps].filter(([ip, local]) => !local && !nodeIps.includes(ip)).map(([ip]) => ip);
  const hostOf: Record<string, string> = {};
  const podHosts: HostSpec[] = [];
  const veths: HostSpec['ifaces'] = [];
  const addPod = (name: string, ip: string) => {
    hostOf[ip] = name;
    veths.push({ name: `v-${name}`.slice(0, 15), master: bridge, peer: { host: name, iface: 'eth0' }, hairpin: true });
    podHosts.push({
      name,
      ifaces: [
        { name: 'eth0', addrs: [`${ip}/${pod.len}`], peer: { host: nodeName, iface: `v-${name}`.slice(0, 15) } },
      ],
      routes: [{ dst: 'default', via: gateway }],
      sysctls: off,
      servers,
    });
  };
  localPods.forEach((ip, i) => addPod(`ep${i + 1}`, ip));
  addPod(POD_CLIENT, freeIn(pod, 'high'));
  for (const ip of nodeIps) hostOf[ip] = nodeName;
  hostOf[gateway] = nodeName;
  hostOf[clientIp] = OUTSIDE;
  for (const ip of remote) hostOf[ip] = REMOTE;
  // an upstream host holds every Service address: a packet the node's rules fail to intercept
  // reaches it and is answered there, visibly, instead of vanishing as it would in an empty network
  const vips = [
    ...new Set(ports.flatMap((rp) => [rp.svc.clusterIP, ...rp.svc.externalIPs, ...rp.svc.loadBalancerIPs])),
  ].filter((ip): ip is string => ip !== undefined && !nodeIps.includes(ip) && !eps.has(ip) && !hostOf[ip]);
  const transfer = { node: '198.18.0.1', remote: '198.18.0.2', node2: '198.18.0.5', upstream: '198.18.0.6' };
  for (const ip of vips) hostOf[ip] = UPSTREAM;
  const node: HostSpec = {
    name: nodeName,
    ifaces: [
      { name: bridge, bridge: true, addrs: [`${gateway}/${pod.len}`] },
      ...veths,
      {
        name: 'eth0',
        addrs: [`${nodeIps[0]}/24`, ...nodeIps.slice(1).map((ip) => `${ip}/32`)],
        peer: { host: OUTSIDE, iface: 'eth0' },
      },
      { name: 'eth1', addrs: [`${transfer.node}/30`], peer: { host: REMOTE, iface: 'eth0' } },
      ...(vips.length
        ? [{ name: 'eth2', addrs: [`${transfer.node2}/30`], peer: { host: UPSTREAM, iface: 'eth0' } }]
        : []),
    ],
    routes: [
      ...remote.map((ip) => ({ dst: `${ip}/32`, via: transfer.remote })),
      ...vips.map((ip) => ({ dst: `${ip}/32`, via: transfer.upstream })),
      { dst: 'default', via: clientIp },
    ],
    sysctls: { ...off, ip_forward: true, bridge_nf_call_iptables: true, route_localnet: routeLocalnet },
    servers,
  };
  const hosts: HostSpec[] = [
    node,
    ...podHosts,
    {
      name: OUTSIDE,
      ifaces: [{ name: 'eth0', addrs: [`${clientIp}/24`], peer: { host: nodeName, iface: 'eth0' } }],
      routes: [{ dst: 'default', via: nodeIps[0]! }],
      sysctls: off,
      servers,
    },
    {
      name: REMOTE,
      ifaces: [
        {
          name: 'eth0',
          addrs: [`${transfer.remote}/30`, ...remote.map((ip) => `${ip}/32`)],
          peer: { host: nodeName, iface: 'eth1' },
        },
      ],
      routes: [{ dst: 'default', via: transfer.node }],
      sysctls: off,
      servers,
    },
  ];
  if (vips.length)
    hosts.push({
      name: UPSTREAM,
      ifaces: [
        {
          name: 'eth0',
          addrs: [`${transfer.upstream}/30`, ...vips.map((ip) => `${ip}/32`)],
          peer: { host: nodeName, iface: 'eth2' },
        },
      ],
      routes: [{ dst: 'default', via: transfer.node2 }],
      sysctls: off,
      servers: [
        ...servers,
        ...ports.map((rp) => ({
          proto: rp.port.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const),
          port: rp.port.port,
        })),
      ].filter((x, i, all) => all.findIndex((y) => y.proto === x.proto && y.port === x.port) === i),
    });
  const podNames = podHosts.map((h) => h.name);
  const entryNode = Object.fromEntries(hosts.map((h) => [h.name, nodeName]));
  return {
    topo: { name: `validate-${nodeName}`, hosts },
    layout: {
      clusterCIDR: typeof o.podTraffic === 'object' ? o.podTraffic.cidr : podCIDR,
      podTraffic:
        o.podTraffic === 'none'
          ? 'none'
          : typeof o.podTraffic === 'object'
            ? { cidr: o.podTraffic.cidr }
            : { hosts: podNames },
      // every local address is the node's own (addrtype LOCAL), the transfer links' too
      nodes: [
        {
          name: nodeName,
          addresses: [...nodeIps, gateway, transfer.node, ...(vips.length ? [transfer.node2] : [])],
        },
      ],
      entryNode,
      hostOf,
      serverPorts,
    },
  };
}
