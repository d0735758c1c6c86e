// The Service-level oracle: from the Services alone, what must happen to a probe,
// as the Kubernetes documentation describes Services (no rules involved).
import { parseIp, parseCidr, cidrContains, K8S_NODE } from '../model/index.ts';
import type { Probe } from '../model/index.ts';
import type { Cluster } from './objects.ts';
import { resolve, type ResolvedEndpoint, type ResolvedPort } from './endpoints.ts';
import type { ProxyMode } from './proxy-mode.ts';

/** Where things are: nodes and their addresses, which node each host's traffic enters, the pod network. */
export interface ClusterLayout {
  /** the pod network; also the local-traffic detector unless `podTraffic` says otherwise */
  clusterCIDR: string;
  /** how the node tells pod traffic (kube-proxy's --detect-local-mode): by source CIDR, by the hosts
   *  whose packets enter through pod interfaces (BridgeInterface, InterfaceNamePrefix), or not at all */
  podTraffic?: { cidr: string } | { hosts: string[] } | 'none';
  masqueradeAll?: boolean;
  /** NodePorts answer on 127.0.0.1 too (kube-proxy's localhost NodePorts, route_localnet=1; iptables mode only) */
  localhostNodePorts?: boolean;
  /** kube-proxy's --nodeport-addresses: NodePorts answer only on node addresses inside these (CIDRs, addresses
   *  or `primary`, the node's first address); absent: on every local address */
  nodePortAddresses?: string[];
  /** kube-proxy's mode (default iptables): nftables mode differs where spec/kube.md §2a says */
  proxyMode?: ProxyMode;
  /** each node's addresses (the primary one first) and its topology.kubernetes.io/zone label */
  nodes: { name: string; addresses: string[]; zone?: string }[];
  /** the node a host's packets to a Service reach first */
  entryNode: Record<string, string>;
  /** address -> host, for responders */
  hostOf: Record<string, string>;
  /** ports the endpoints' servers listen on */
  serverPorts: number[];
}

export interface OracleResult {
  p: number;
  outcome: 'delivered' | 'refused' | 'dropped';
  responder: string | null;
  /** whether the server sees the client's own address (undefined: not said) */
  sourceKept?: boolean;
  /** ClientIP affinity: only the first connection is spread; later ones stick (compare possibilities, not
   * probabilities) */
  affinity?: boolean;
}

/** The `k8s-node` preset as the oracle sees it (derived from the preset: model/net/preset-facts.ts). */
export const K8S_NODE_LAYOUT: ClusterLayout = {
  clusterCIDR: K8S_NODE.clusterCIDR,
  nodes: K8S_NODE.nodes.map((n) => ({ name: n.name, addresses: [...n.addresses] })),
  entryNode: { ...K8S_NODE.entryNode },
  hostOf: { ...K8S_NODE.hostOf },
  serverPorts: [...K8S_NODE.serverPorts],
};

function spread(
  eps: readonly ResolvedEndpoint[],
  layout: ClusterLayout,
  kept: (e: ResolvedEndpoint) => boolean,
  affinity = false,
): OracleResult[] {
  return eps.map((e) => ({
    ...(affinity ? { affinity } : {}),
    p: 1 / eps.length,
    outcome: layout.serverPorts.includes(e.port) ? 'delivered' : 'refused',
    responder: layout.serverPorts.includes(e.port) ? (layout.hostOf[e.ip] ?? null) : null,
    sourceKept: kept(e),
  }));
}

/**
 * What the Services say must happen to the probe (source address `src` of the client);
 * undefined when the probe is not Service traffic (the oracle says nothing about it).
 */
export function predict(
  cluster: Cluster,
  layout: ClusterLayout,
  probe: Probe,
  src: string,
): OracleResult[] | undefined {
  const ports = layout.nodes.flatMap((n) =>
    resolve(cluster, n.name, n.zone !== undefined ? { zone: n.zone } : {}).map((rp) => ({ node: n.name, rp })),
  );
  const entry = layout.entryNode[probe.from];
  const inCluster = isPodTraffic(layout, probe.from, src);
  const at = (node: string | undefined) => ports.filter((x) => x.node === node).map((x) => x.rp);
  const proto = probe.proto.toUpperCase();
  const matches = (rp: ResolvedPort, port: number | undefined) => rp.port.protocol === proto && port === probe.dport;
  const nft = layout.proxyMode === 'nftables';

  // a ClusterIP
  const vip = at(entry).filter((rp) => rp.svc.clusterIP === probe.dst);
  if (vip.length) {
    const rp = vip.find((x) => matches(x, x.port.port));
    // another port or protocol: not forwarded (C20); nftables mode rejects it (its cluster-ips check)
    if (!rp) return [{ p: 1, outcome: nft ? 'refused' : 'dropped', responder: null }];
    const eps = rp.svc.internalTrafficPolicy === 'Local' ? rp.local : rp.cluster;
    if (eps.length === 0) return [{ p: 1, outcome: rp.hasEndpoints ? 'dropped' : 'refused', responder: null }];
    // masqueraded unless the detector takes it for pod traffic; without a detector nothing is
    const masq = layout.masqueradeAll || (layout.podTraffic !== 'none' && !inCluster);
    return spread(eps, layout, (e) => !masq && e.ip !== src, rp.svc.sessionAffinity === 'ClientIP');
  }
  // a load balancer or external IP (even one that is also a node's address: its rule comes before the
  // NodePort catch-all in KUBE-SERVICES), handled by the node the client's packets reach
  const ext = at(entry).find(
    (x) =>
      (x.svc.loadBalancerIPs.includes(probe.dst) || x.svc.externalIPs.includes(probe.dst)) && matches(x, x.port.port),
  );
  if (ext) {
    const isLb = ext.svc.loadBalancerIPs.includes(probe.dst);
    const ranges = isLb ? ext.svc.loadBalancerSourceRanges : [];
    const a = parseIp(src)!;
    // kube-proxy also admits the load-balancer IPs themselves as sources when a range holds the node's
    // primary address (a node reaching a VIP it holds locally sends from the VIP)
    const primary = parseIp(layout.nodes.find((n) => n.name === entry)?.addresses[0] ?? '');
    const admitsNode = primary !== undefined && ranges.some((r) => cidrContains(parseCidr(r)!, primary));
    const admitted =
      ranges.some((r) => cidrContains(parseCidr(r)!, a)) || (admitsNode && ext.svc.loadBalancerIPs.includes(src));
    const dropped: OracleResult[] = [{ p: 1, outcome: 'dropped', responder: null }];
    // nftables mode looks at the source ranges first (its firewall check runs before DNAT, endpoints or not)
    if (nft && ranges.length && !admitted) return dropped;
    if (!ext.hasEndpoints && layout.nodes.some((n) => n.name === probe.from)) {
      // a node's own packets to an external address without endpoints: iptables mode does not intercept them
      // (they leave the cluster; the oracle says nothing), nftables mode's output check rejects them
      return nft ? [{ p: 1, outcome: 'refused', responder: null }] : undefined;
    }
    // iptables mode: a Service without endpoints refuses before its source ranges are looked at
    if (ranges.length && ext.hasEndpoints && !admitted) return dropped;
    return external(ext, layout, src, inCluster, entry);
  }
  // a NodePort on 127.0.0.1, from a node itself: DNATed with localhost NodePorts (masqueraded: 127/8
  // cannot leave the node), else nothing intercepts it and nothing listens there
  if (probe.dst === '127.0.0.1' && layout.nodes.some((n) => n.name === probe.from)) {
    const rp = at(probe.from).find((x) => x.hasNodePort && matches(x, x.port.nodePort));
    if (!rp) return undefined;
    // nftables mode has no localhost NodePorts and leaves 127/8 alone: nothing listens there
    if (nft) return [{ p: 1, outcome: 'refused', responder: null }];
    if (!layout.localhostNodePorts) {
      // the filter rules for node ports without (local) endpoints still match: 127.0.0.1 is a local address
      const noLocal = rp.hasEndpoints && rp.externalLocal && rp.local.length === 0;
      return [{ p: 1, outcome: noLocal ? 'dropped' : 'refused', responder: null }];
    }
    return external(rp, layout, src, false, probe.from).map((r) => ({ ...r, sourceKept: false }));
  }
  // a NodePort on a node's address: handled by the node that owns it
  const owner = layout.nodes.find((n) => n.addresses.includes(probe.dst))?.name;
  // an address outside --nodeport-addresses has no NodePort rule: the oracle says nothing of it
  if (owner && !nodePortAddressOf(layout, owner, probe.dst)) return undefined;
  if (owner) {
    const rp = at(owner).find((x) => x.hasNodePort && matches(x, x.port.nodePort));
    if (!rp) return undefined;
    return external(rp, layout, src, inCluster, owner);
  }
  return undefined;
}

/** Whether `addr` of node `node` answers NodePorts under --nodeport-addresses. */
export function nodePortAddressOf(layout: ClusterLayout, node: string, addr: string): boolean {
  const given = layout.nodePortAddresses;
  if (!given?.length) return true;
  const a = parseIp(addr)!;
  const primary = layout.nodes.find((n) => n.name === node)?.addresses[0];
  return given.some((g) => (g === 'primary' ? primary === addr : cidrContains(parseCidr(g)!, a)));
}

/** Whether the node's local-traffic detector takes the probe for pod traffic. */
function isPodTraffic(layout: ClusterLayout, from: string, src: string): boolean {
  const d = layout.podTraffic ?? { cidr: layout.clusterCIDR };
  if (d === 'none') return false;
  if ('hosts' in d) return d.hosts.includes(from);
  const c = parseCidr(d.cidr);
  const a = parseIp(src);
  return c !== undefined && a !== undefined && cidrContains(c, a);
}

function external(
  rp: ResolvedPort,
  layout: ClusterLayout,
  src: string,
  fromPod: boolean,
  handler: string | undefined,
): OracleResult[] {
  // "node traffic" is traffic from the handling node's own addresses
  const fromNode = layout.nodes.some((n) => n.name === handler && n.addresses.includes(src)) || src.startsWith('127.');
  // externalTrafficPolicy=Local concerns outside clients: pods and nodes still use every endpoint
  const local = rp.svc.externalTrafficPolicy === 'Local' && !fromPod && !fromNode;
  if (rp.svc.externalTrafficPolicy === 'Local' && fromPod) {
    if (!rp.hasEndpoints) return [{ p: 1, outcome: 'refused', responder: null }];
    return spread(rp.cluster, layout, (e) => e.ip !== src, rp.svc.sessionAffinity === 'ClientIP');
  }
  const eps = local ? rp.local : rp.cluster;
  if (eps.length === 0) return [{ p: 1, outcome: rp.hasEndpoints ? 'dropped' : 'refused', responder: null }];
  // Cluster policy masquerades; Local keeps the client's address
  return spread(eps, layout, (e) => local && e.ip !== src, rp.svc.sessionAffinity === 'ClientIP');
}
