// Facts about a topology that other layers need by name (the oracle's layout, the generators'
// address pools, the hairpin ports a Service case sets): derived from the topology value itself,
// so the `k8s-node` preset in presets.ts stays their one source (spec/semantics.md §8).
import type { TopologySpec, HostSpec } from './topology.ts';
import { STANDARD_SERVERS } from './topology.ts';
import { k8sNode, K8S_NODE_CLUSTER_CIDR } from './presets.ts';

export interface NodeFacts {
  name: string;
  /** the node's addresses, the one on its default route's interface (its primary address) first */
  addresses: string[];
  bridge: string;
  /** the bridge's subnet: the node's pod CIDR */
  podCidr: string;
  /** the bridge ports (one veth per pod) */
  bridgePorts: string[];
}

export interface TopologyFacts {
  hosts: string[];
  /** every interface address (without its prefix length), in topology order */
  addresses: string[];
  /** every interface's subnet, in topology order, without repeats */
  subnets: string[];
  /** address -> host that owns it */
  hostOf: Record<string, string>;
  /** hosts with a bridge: the nodes */
  nodes: NodeFacts[];
  /** hosts plugged into a node's bridge: the pods */
  pods: { name: string; ip: string; node: string }[];
  /** hosts that are neither nodes nor pods (the outside), with their address and its subnet */
  others: { name: string; ip: string; subnet: string }[];
  /** the node a host's packets reach first: itself, the node of its bridge, or its default gateway's owner */
  entryNode: Record<string, string>;
  /** the TCP/UDP ports every host's standard servers listen on */
  serverPorts: number[];
}

const addrOf = (cidr: string): string => cidr.split('/')[0]!;

function subnetOf(cidr: string): string {
  const [a, len] = cidr.split('/') as [string, string];
  const n = Number(len);
  const v = a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const masked = n === 0 ? 0 : (v - (v % 2 ** (32 - n))) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (masked >>> s) & 255).join('.')}/${n}`;
}

export function topologyFacts(t: TopologySpec): TopologyFacts {
  const hostOf: Record<string, string> = {};
  const addresses: string[] = [];
  const subnets = new Set<string>();
  for (const h of t.hosts)
    for (const f of h.ifaces)
      for (const a of f.addrs ?? []) {
        hostOf[addrOf(a)] = h.name;
        addresses.push(addrOf(a));
        subnets.add(subnetOf(a));
      }
  const byName = new Map(t.hosts.map((h) => [h.name, h]));
  const nodes: NodeFacts[] = [];
  for (const h of t.hosts) {
    const br = h.ifaces.find((f) => f.bridge);
    if (!br?.addrs?.[0]) continue;
    const gw = h.routes?.find((r) => r.dst === 'default')?.via;
    const own = h.ifaces.flatMap((f) => (f.addrs ?? []).map(addrOf));
    const primary = own.find((a) => gw !== undefined && sameSubnet(h, a, gw)) ?? own[0]!;
    nodes.push({
      name: h.name,
      addresses: [primary, ...own.filter((a) => a !== primary)],
      bridge: br.name,
      podCidr: subnetOf(br.addrs[0]),
      bridgePorts: h.ifaces.filter((f) => f.master === br.name).map((f) => f.name),
    });
  }
  const pods: TopologyFacts['pods'] = [];
  for (const n of nodes)
    for (const port of byName.get(n.name)!.ifaces.filter((f) => f.master === n.bridge)) {
      const pod = port.peer && byName.get(port.peer.host);
      const ip = pod?.ifaces.find((f) => f.name === port.peer!.iface)?.addrs?.[0];
      if (pod && ip) pods.push({ name: pod.name, ip: addrOf(ip), node: n.name });
    }
  const others: TopologyFacts['others'] = [];
  for (const h of t.hosts) {
    const cidr = h.ifaces.flatMap((f) => f.addrs ?? [])[0];
    if (cidr && !nodes.some((n) => n.name === h.name) && !pods.some((p) => p.name === h.name))
      others.push({ name: h.name, ip: addrOf(cidr), subnet: subnetOf(cidr) });
  }
  const entryNode: Record<string, string> = {};
  for (const h of t.hosts) {
    const node =
      nodes.find((n) => n.name === h.name)?.name ??
      pods.find((p) => p.name === h.name)?.node ??
      hostOf[h.routes?.find((r) => r.dst === 'default')?.via ?? ''];
    if (node !== undefined && nodes.some((n) => n.name === node)) entryNode[h.name] = node;
  }
  return {
    hosts: t.hosts.map((h) => h.name),
    addresses,
    subnets: [...subnets],
    hostOf,
    nodes,
    pods,
    others,
    entryNode,
    serverPorts: [...new Set(STANDARD_SERVERS.map((s) => s.port))],
  };
}

function sameSubnet(h: HostSpec, own: string, gw: string): boolean {
  const cidr = h.ifaces.flatMap((f) => f.addrs ?? []).find((a) => addrOf(a) === own);
  return cidr !== undefined && subnetOf(cidr) === subnetOf(`${gw}/${cidr.split('/')[1]}`);
}

/** The `k8s-node` preset's facts, and the pod network its Services use. */
export const K8S_NODE = { ...topologyFacts(k8sNode()), clusterCIDR: K8S_NODE_CLUSTER_CIDR };
