// Which endpoints a node uses for each Service port, as kube-proxy decides it
// (pkg/proxy/topology.go CategorizeEndpoints): ready endpoints, narrowed by topology
// hints when every ready endpoint has one for this zone, else serving-and-terminating
// ones when none is ready; Local policies look at this node's endpoints only. Shared
// openly by the compiler and the oracle (spec/kube.md §2).
import type { Cluster, Service, ServicePort, Endpoint, EndpointSlice } from './objects.ts';

export interface ResolvedEndpoint extends Endpoint {
  port: number;
  isLocal: boolean;
}

/** A Service port and the endpoints kube-proxy would use for it. */
export interface ResolvedPort {
  svc: Service;
  port: ServicePort;
  /** "ns/name:port" or "ns/name" */
  spn: string;
  /** endpoints for Cluster policy traffic (empty when the port never uses Cluster policy) */
  cluster: ResolvedEndpoint[];
  /** this node's endpoints for Local policy traffic (empty when the port never uses Local policy) */
  local: ResolvedEndpoint[];
  /** usable endpoints exist somewhere in the cluster */
  hasEndpoints: boolean;
  /** reachable from an external address: a node port, a load-balancer IP or an external IP */
  externallyAccessible: boolean;
  /** a node port is open (NodePort and LoadBalancer Services with one allocated) */
  hasNodePort: boolean;
  usesCluster: boolean;
  usesLocal: boolean;
  internalLocal: boolean;
  externalLocal: boolean;
}

/** Which of a port's chains carry traffic: the same in both proxy modes (kube-proxy's iptables and nftables
 *  proxiers derive them alike from the port's endpoints and traffic policies). */
export interface PortChains {
  /** the Cluster-policy chain (KUBE-SVC / service-*) has endpoint rules */
  usesClusterChain: boolean;
  /** the Local-policy chain (KUBE-SVL / local-*) has endpoint rules */
  usesLocalChain: boolean;
  /** internal traffic (cluster IP) has an endpoint to go to; else it is rejected or dropped */
  hasInternal: boolean;
  /** external traffic has an endpoint to go to under its policy */
  hasExternal: boolean;
  /** the external chain (KUBE-EXT / external-*) exists */
  usesExtChain: boolean;
}

export function portChains(rp: ResolvedPort): PortChains {
  return {
    usesClusterChain: rp.cluster.length > 0 && rp.usesCluster,
    usesLocalChain: rp.local.length > 0 && rp.usesLocal,
    hasInternal: rp.hasEndpoints && (!rp.internalLocal || rp.local.length > 0),
    hasExternal: rp.hasEndpoints && (!rp.externalLocal || rp.local.length > 0),
    usesExtChain: rp.hasEndpoints && rp.externallyAccessible,
  };
}

export interface ResolveOptions {
  /** the node's topology.kubernetes.io/zone label, for zone hints */
  zone?: string;
}

const cache = new WeakMap<Cluster, Map<string, ResolvedPort[]>>();

/** Endpoints per Service port, for one node. Memoized per cluster object (validate asks once per probe). */
export function resolve(cluster: Cluster, nodeName: string, opts: ResolveOptions = {}): ResolvedPort[] {
  const key = `${nodeName}\n${opts.zone ?? ''}`;
  let perCluster = cache.get(cluster);
  if (!perCluster) cache.set(cluster, (perCluster = new Map()));
  const hit = perCluster.get(key);
  if (hit) return hit;
  const bySvc = new Map<string, EndpointSlice[]>();
  for (const s of cluster.slices) {
    const k = `${s.namespace}/${s.service}`;
    bySvc.set(k, [...(bySvc.get(k) ?? []), s]);
  }
  const out: ResolvedPort[] = [];
  for (const svc of cluster.services) {
    if (svc.clusterIP === undefined) continue; // headless and ExternalName: no rules
    const slices = bySvc.get(`${svc.namespace}/${svc.name}`) ?? [];
    for (const port of svc.ports) out.push(resolvePort(svc, port, slices, nodeName, opts.zone));
  }
  perCluster.set(key, out);
  return out;
}

function resolvePort(
  svc: Service,
  port: ServicePort,
  slices: EndpointSlice[],
  nodeName: string,
  zone: string | undefined,
): ResolvedPort {
  const spn = `${svc.namespace}/${svc.name}${port.name ? `:${port.name}` : ''}`;
  const all: ResolvedEndpoint[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    const sp = slice.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    if (!sp) continue;
    for (const e of slice.endpoints) {
      // the same address and port in two slices is one endpoint (the first slice's)
      if (seen.has(`${e.ip}:${sp.port}`)) continue;
      seen.add(`${e.ip}:${sp.port}`);
      all.push({ ...e, port: sp.port, isLocal: e.nodeName === nodeName });
    }
  }
  const hasNodePort = port.nodePort !== undefined && (svc.type === 'NodePort' || svc.type === 'LoadBalancer');
  const externallyAccessible = hasNodePort || svc.loadBalancerIPs.length > 0 || svc.externalIPs.length > 0;
  const internalLocal = svc.internalTrafficPolicy === 'Local';
  const externalLocal = externallyAccessible && svc.externalTrafficPolicy === 'Local';
  // Cluster endpoints are needed for ClusterIP traffic under Cluster policy, and for the
  // short circuit of pod and node traffic to external addresses whatever the policy
  const usesCluster = !internalLocal || externallyAccessible;
  const usesLocal = internalLocal || externalLocal;
  const servingTerminating = (e: Endpoint) => e.serving && e.terminating;
  let cluster: ResolvedEndpoint[] = [];
  let hasEndpoints = false;
  if (usesCluster) {
    const mode = topologyMode(all, nodeName, zone);
    cluster = all.filter((e) => e.ready && availableFor(e, mode, nodeName, zone));
    if (cluster.length === 0) cluster = all.filter(servingTerminating);
    hasEndpoints = cluster.length > 0;
  }
  let local: ResolvedEndpoint[] = [];
  if (usesLocal) {
    if (all.some((e) => e.ready || servingTerminating(e))) hasEndpoints = true;
    local = all.filter((e) => e.isLocal && e.ready);
    if (local.length === 0) local = all.filter((e) => e.isLocal && servingTerminating(e));
  }
  return {
    svc,
    port,
    spn,
    cluster,
    local,
    hasEndpoints,
    externallyAccessible,
    hasNodePort,
    usesCluster,
    usesLocal,
    internalLocal,
    externalLocal,
  };
}

type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

/** Hints are used only when every ready endpoint has one and one of them is for this node (zone). */
function topologyMode(eps: ResolvedEndpoint[], nodeName: string, zone: string | undefined): TopologyMode {
  const ready = eps.filter((e) => e.ready);
  if (ready.length === 0) return '';
  if (ready.every((e) => e.nodeHints?.length) && ready.some((e) => e.nodeHints!.includes(nodeName)))
    return 'PreferSameNode';
  if (zone !== undefined && ready.every((e) => e.zoneHints?.length) && ready.some((e) => e.zoneHints!.includes(zone)))
    return 'PreferSameZone';
  return '';
}

function availableFor(e: ResolvedEndpoint, mode: TopologyMode, nodeName: string, zone: string | undefined): boolean {
  if (mode === 'PreferSameNode') return e.nodeHints?.includes(nodeName) ?? false;
  if (mode === 'PreferSameZone') return zone !== undefined && (e.zoneHints?.includes(zone) ?? false);
  return true;
}

/** The endpoints whose chains exist on this node: Cluster ones and Local ones, each once. */
export function reachableEndpoints(rp: ResolvedPort): ResolvedEndpoint[] {
  const out = [...rp.cluster];
  for (const e of rp.local) if (!out.some((x) => x.ip === e.ip && x.port === e.port)) out.push(e);
  return out;
}
