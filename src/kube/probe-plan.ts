// Which probes `validate` sends for each Service port, simplest first (spec/kube.md §6).
import type { Probe } from '../model/index.ts';
import { reachableEndpoints, type ResolvedPort } from './endpoints.ts';
import { POD_CLIENT, OUTSIDE } from './node-lab.ts';

export interface PlannedProbe {
  service: string;
  label: string;
  probe: Probe;
  /** sticks: a second connection from the same client must reach the same endpoint (ClientIP affinity) */
  check?: 'sticks';
}

/** A probe validate cannot send, and why. */
export interface UnsentProbe {
  service: string;
  label: string;
  why: string;
}

/** The reason when nothing was measured; callers with a lab pass the measured one (lab/sctp.ts). */
export const SCTP_WHY =
  'not probed: nfconform sends TCP, UDP and ICMP probes only (the model and the lab agent have no SCTP sockets yet)';

/** Probes per Service port, simplest first: ClusterIP from a pod and from the node, then the NodePort, then
 *  load-balancer and external IPs (from outside, from a pod, from the node), then each endpoint reaching
 *  itself through the Service (hairpin). `hostOf` names the lab host of each endpoint address. */
export function planProbes(
  ports: readonly ResolvedPort[],
  nodeName: string,
  nodeIps: string[],
  hostOf: Record<string, string> = {},
  sctpWhy: string = SCTP_WHY,
): { planned: PlannedProbe[]; unsent: UnsentProbe[] } {
  const planned: PlannedProbe[] = [];
  const unsent: UnsentProbe[] = [];
  for (const rp of ports) {
    const service = `${rp.svc.namespace}/${rp.svc.name}`;
    if (rp.port.protocol === 'SCTP') {
      // the model's probes and the lab agent speak TCP, UDP and ICMP only
      unsent.push({ service, label: `${rp.spn} ${rp.port.port}/sctp`, why: sctpWhy });
      continue;
    }
    const proto = rp.port.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const);
    const add = (from: string, dst: string, dport: number, what: string, src?: string) =>
      planned.push({
        service,
        label: `${what} ${dst}:${dport}/${proto} from ${from}${src ? ` (${src})` : ''}`,
        probe: { from, proto, dst, dport, ...(src ? { src } : {}) },
      });
    if (rp.svc.clusterIP) {
      add(POD_CLIENT, rp.svc.clusterIP, rp.port.port, `${rp.spn} ClusterIP`);
      add(nodeName, rp.svc.clusterIP, rp.port.port, `${rp.spn} ClusterIP`);
      if (rp.svc.sessionAffinity === 'ClientIP')
        planned.push({
          service,
          label:
            `${rp.spn} ClientIP affinity: a second connection to` +
            ` ${rp.svc.clusterIP}:${rp.port.port}/${proto} from ${POD_CLIENT} sticks`,
          probe: { from: POD_CLIENT, proto, dst: rp.svc.clusterIP, dport: rp.port.port },
          check: 'sticks',
        });
    }
    if (rp.hasNodePort && rp.port.nodePort !== undefined) {
      add(OUTSIDE, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      add(POD_CLIENT, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      add(nodeName, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      // NodePorts answer on every node address
      for (const ip of nodeIps.slice(1)) add(OUTSIDE, ip, rp.port.nodePort, `${rp.spn} NodePort`);
    }
    // external addresses: from outside, and the short circuits for pods and the node itself
    for (const [ips, what] of [
      [rp.svc.loadBalancerIPs, 'LoadBalancer IP'],
      [rp.svc.externalIPs, 'external IP'],
    ] as const)
      for (const ip of ips)
        for (const from of [OUTSIDE, POD_CLIENT, nodeName]) add(from, ip, rp.port.port, `${rp.spn} ${what}`);
    // hairpin: every endpoint of this node's chains reaching itself through the ClusterIP
    if (rp.svc.clusterIP)
      for (const e of reachableEndpoints(rp)) {
        const host = hostOf[e.ip];
        if (host && host !== nodeName) add(host, rp.svc.clusterIP, rp.port.port, `${rp.spn} hairpin`, e.ip);
      }
  }
  return { planned, unsent };
}
