// Random Service sets for the k8s-node lab: 1-20 Services with 0-5 endpoints, random
// types, traffic policies and affinity; and probes aimed at their entry points.
import fc from 'fast-check';
import { K8S_NODE, type Probe } from '../model/index.ts';
import type { CaseFile } from './case-file.ts';

const PODS = K8S_NODE.pods.map(({ ip, node }) => ({ ip, node }));

export interface ServiceDraw {
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName' | 'Headless';
  udp: boolean;
  /** pods (by index, repeats allowed) with a ready flag; the target port 7777 has no listener */
  endpoints: { pod: number; ready: boolean }[];
  targetPort: 8080 | 9090 | 7777;
  etpLocal: boolean;
  itpLocal: boolean;
  affinity: boolean;
  sourceRanges: boolean;
}

export const serviceDrawArb: fc.Arbitrary<ServiceDraw> = fc.record({
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', 'Headless'),
  udp: fc.boolean(),
  endpoints: fc.array(fc.record({ pod: fc.nat({ max: 2 }), ready: fc.constantFrom(true, true, false) }), {
    maxLength: 5,
  }),
  targetPort: fc.constantFrom(8080, 9090, 7777),
  etpLocal: fc.boolean(),
  itpLocal: fc.boolean(),
  affinity: fc.boolean(),
  sourceRanges: fc.boolean(),
});

/** `kubectl get svc,endpointslices -o json`-shaped text for the drawn Services. */
export function clusterJson(services: readonly ServiceDraw[]): string {
  const items: unknown[] = [];
  services.forEach((s, i) => {
    const name = `s${i}`;
    const proto = s.udp ? 'UDP' : 'TCP';
    const port: Record<string, unknown> = { name: 'p', protocol: proto, port: 80, targetPort: s.targetPort };
    if (s.type === 'NodePort' || s.type === 'LoadBalancer') port.nodePort = 30100 + i;
    const spec: Record<string, unknown> = { type: s.type === 'Headless' ? 'ClusterIP' : s.type, ports: [port] };
    if (s.type === 'ExternalName') spec.externalName = 'example.invalid';
    else spec.clusterIP = s.type === 'Headless' ? 'None' : `10.96.1.${i + 1}`;
    if (s.etpLocal && (s.type === 'NodePort' || s.type === 'LoadBalancer')) spec.externalTrafficPolicy = 'Local';
    if (s.itpLocal) spec.internalTrafficPolicy = 'Local';
    if (s.affinity) spec.sessionAffinity = 'ClientIP';
    if (s.type === 'LoadBalancer' && s.sourceRanges) spec.loadBalancerSourceRanges = [K8S_NODE.others[0]!.subnet];
    const svc: Record<string, unknown> = { kind: 'Service', metadata: { namespace: 'default', name }, spec };
    if (s.type === 'LoadBalancer') svc.status = { loadBalancer: { ingress: [{ ip: `203.0.113.${100 + i}` }] } };
    items.push(svc);
    const seen = new Set<number>();
    const eps = s.endpoints.filter((e) => !seen.has(e.pod) && (seen.add(e.pod), true));
    if (s.type !== 'ExternalName') {
      items.push({
        kind: 'EndpointSlice',
        metadata: { namespace: 'default', name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        ports: [{ name: 'p', port: s.targetPort, protocol: proto }],
        endpoints: eps.map((e) => ({
          addresses: [PODS[e.pod]!.ip],
          conditions: { ready: e.ready, serving: e.ready, terminating: false },
          nodeName: PODS[e.pod]!.node,
        })),
      });
    }
  });
  return JSON.stringify({ kind: 'List', items });
}

const HOSTS = [...K8S_NODE.pods, ...K8S_NODE.nodes, ...K8S_NODE.others].map((h) => h.name);

/**
 * A probe at one of the Services' entry points: ClusterIP, a node address + nodePort, or a load balancer IP;
 * mostly at the Service's port, sometimes at a port no Service serves (kube-proxy's nftables mode rejects
 * those for ClusterIPs) or as a ping (not forwarded), as users' clients do.
 */
export function serviceProbeArb(count: number): fc.Arbitrary<Probe> {
  return fc
    .record({
      from: fc.constantFrom(...HOSTS),
      svc: fc.nat({ max: Math.max(0, count - 1) }),
      via: fc.constantFrom('cluster-ip', 'node-port', 'node2-port', 'lb-ip', 'cluster-ip'),
      proto: fc.constantFrom<Probe['proto']>('tcp', 'udp', 'tcp', 'udp', 'tcp', 'udp', 'icmp'),
      unserved: fc.constantFrom(false, false, false, false, false, true),
    })
    .map(({ from, svc, via, proto, unserved }): Probe => {
      const at = (dst: string, dport: number): Probe =>
        proto === 'icmp' ? { from, proto, dst } : { from, proto, dst, dport };
      if (via === 'node-port') return at(primaryOf('node'), unserved ? 30099 : 30100 + svc);
      if (via === 'node2-port') return at(primaryOf('node2'), unserved ? 30099 : 30100 + svc);
      if (via === 'lb-ip') return at(`203.0.113.${100 + svc}`, unserved ? 81 : 80);
      return at(`10.96.1.${svc + 1}`, unserved ? 81 : 80);
    });
}

/** One draw of serviceCaseArb: Services and the probes aimed at them. */
export interface ServiceCaseDraw {
  services: ServiceDraw[];
  probes: Probe[];
}

export function serviceCaseArb(maxServices = 20): fc.Arbitrary<ServiceCaseDraw> {
  return fc
    .tuple(
      fc.array(serviceDrawArb, { minLength: 1, maxLength: maxServices }),
      fc.array(serviceProbeArb(maxServices), { minLength: 1, maxLength: 4 }),
    )
    .map(([services, probes]) => ({ services, probes: probes.map((p) => ({ ...p, dst: remap(p, services.length) })) }));
}

/** Probes drawn for maxServices Services aim at the ones that exist. */
function remap(p: Probe, n: number): string {
  const m = /^(10\.96\.1\.|203\.0\.113\.)(\d+)$/.exec(p.dst);
  if (!m) return p.dst;
  const base = m[1] === '10.96.1.' ? 1 : 100;
  return `${m[1]}${base + ((Number(m[2]) - base) % n)}`;
}

/**
 * NodePorts are probed on the node the client's packets reach first. (A pod probing another
 * node's NodePort with externalTrafficPolicy=Local keeps its address, and the endpoint's reply
 * may bypass that node: the connection breaks on the kernel and the model alike, which the
 * Service semantics do not describe; see the notes of spec/kube.md.)
 */
const primaryOf = (node: string): string => K8S_NODE.nodes.find((n) => n.name === node)!.addresses[0]!;
const ENTRY_ADDRESS: Record<string, string> = Object.fromEntries(
  Object.entries(K8S_NODE.entryNode).map(([host, node]) => [host, primaryOf(node)]),
);

export function serviceCase(d: ServiceCaseDraw, name = 'random Services'): CaseFile {
  return {
    name,
    tags: ['service', 'property'],
    topology: 'k8s-node',
    services: { file: '<generated>', clusterCIDR: K8S_NODE.clusterCIDR, text: clusterJson(d.services) },
    steps: d.probes.map((p) => {
      if (p.dport === undefined || p.dport < 30000) return { ...p };
      // a node port at the node the client reaches first; 30099 is served by no Service
      const dport = p.dport < 30100 ? p.dport : 30100 + ((p.dport - 30100) % d.services.length);
      return { ...p, dst: ENTRY_ADDRESS[p.from]!, dport };
    }),
  };
}
