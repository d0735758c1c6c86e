// Which probes `validate` sends for each Service port, simplest first (spec/kube.md §6).
import type { Probe } from '../model/index.ts';
import type { ResolvedPort } from './endpoints.ts';
import { POD_CLIENT, OUTSIDE } from './node-lab.ts';

export interface PlannedProbe {
  service: string;
  label: string;
  probe: Probe;
}

/** A probe validate cannot send, and why. */
export interface UnsentProbe {
  service: string;
  label: string;
  why: string;
}

export const SCTP_WHY =
  'not probed: nfconform sends TCP, UDP and ICMP probes only (the model and the lab agent have no SCTP sockets yet)';

/** Probes per Service port, simplest first: ClusterIP from a pod and from the node, then NodePort, then external addresses. */
export function planProbes(
  ports: readonly ResolvedPort[],
  nodeName: string,
  nodeIps: string[],
): { planned: PlannedProbe[]; unsent: UnsentProbe[] } {
  const planned: PlannedProbe[] = [];
  const unsent: UnsentProbe[] = [];
  for (const rp of ports) {
    const service = `${rp.svc.namespace}/${rp.svc.name}`;
    if (rp.port.protocol === 'SCTP') {
      // the model's probes and the lab agent speak TCP, UDP and ICMP only
      unsent.push({ service, label: `${rp.spn} ${rp.port.port}/sctp`, why: SCTP_WHY });
      continue;
    }
    const proto = rp.port.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const);
    const add = (from: string, dst: string, dport: number, what: string) =>
      planned.push({
        service,
        label: `${what} ${dst}:${dport}/${proto} from ${from}`,
        probe: { from, proto, dst, dport },
      });
    if (rp.svc.clusterIP) {
      add(POD_CLIENT, rp.svc.clusterIP, rp.port.port, `${rp.spn} ClusterIP`);
      add(nodeName, rp.svc.clusterIP, rp.port.port, `${rp.spn} ClusterIP`);
    }
    if (rp.hasNodePort && rp.port.nodePort !== undefined) {
      add(OUTSIDE, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      add(POD_CLIENT, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      // NodePorts answer on every node address
      for (const ip of nodeIps.slice(1)) add(OUTSIDE, ip, rp.port.nodePort, `${rp.spn} NodePort`);
    }
    for (const ip of rp.svc.loadBalancerIPs) add(OUTSIDE, ip, rp.port.port, `${rp.spn} LoadBalancer IP`);
    for (const ip of rp.svc.externalIPs) add(OUTSIDE, ip, rp.port.port, `${rp.spn} external IP`);
  }
  return { planned, unsent };
}
