// Probes aimed at the standard lab: its hosts, its addresses, virtual IPs and the servers' ports.
import fc from 'fast-check';
import { K8S_NODE, type Probe } from '../model/index.ts';

export const LAB_HOSTS = K8S_NODE.hosts;
export const LAB_ADDRESSES = [...K8S_NODE.addresses, '127.0.0.1'];
export const VIRTUAL_IPS = ['10.96.0.1', '10.96.0.10', '10.96.0.100'];
/** a port nobody serves (80), the servers' ports, a NodePort, a port a Service may target without a server */
export const PORTS = [80, ...K8S_NODE.serverPorts, 30080, 7777];

export function probeArb(extraDsts: readonly string[] = []): fc.Arbitrary<Probe> {
  return fc
    .record({
      from: fc.constantFrom(...LAB_HOSTS),
      proto: fc.constantFrom('tcp' as const, 'udp' as const, 'icmp' as const),
      dst: fc.constantFrom(...VIRTUAL_IPS, ...LAB_ADDRESSES, ...extraDsts),
      dport: fc.constantFrom(...PORTS),
      // UDP from an unconnected socket too, one probe in four (it shrinks to a connected one)
      connected: fc.constantFrom(true, true, true, false),
    })
    .map(({ connected, ...p }): Probe => {
      if (p.proto === 'icmp') return { from: p.from, proto: p.proto, dst: p.dst };
      return p.proto === 'udp' && !connected ? { ...p, connected: false } : p;
    });
}
