// Probes aimed at the standard lab: its hosts, its addresses, virtual IPs and the servers' ports.
import fc from 'fast-check';
import type { Probe } from '../model/index.ts';

export const LAB_HOSTS = ['node', 'node2', 'pod1', 'pod2', 'pod3', 'client'] as const;
export const LAB_ADDRESSES = [
  '10.244.1.1',
  '10.244.1.11',
  '10.244.1.12',
  '10.244.2.1',
  '10.244.2.13',
  '192.168.50.10',
  '192.168.50.20',
  '10.0.2.10',
  '10.0.2.11',
  '127.0.0.1',
];
export const VIRTUAL_IPS = ['10.96.0.1', '10.96.0.10', '10.96.0.100'];
export const PORTS = [80, 8080, 9090, 30080, 7777];

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
