// Every name the model accepts can be made in the lab: dots in interface names (VLAN-style
// eth0.100), the longest names, names that are iproute2 keywords.
import { describe, test, expect } from 'vitest';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import type { TopologySpec } from '../../src/model/index.ts';
import { skipReason, kernelDescribe } from './env.ts';

const topo: TopologySpec = {
  name: 'names',
  hosts: [
    {
      name: 'h.1_a-b',
      ifaces: [
        { name: 'eth0.100', addrs: ['10.9.0.1/24'], peer: { host: 'type', iface: 'abcdefghijklmno' } },
        { name: 'help', bridge: true, addrs: ['10.8.0.1/24'] },
      ],
      sysctls: { rp_filter: 1 },
    },
    {
      name: 'type',
      ifaces: [{ name: 'abcdefghijklmno', addrs: ['10.9.0.2/24'], peer: { host: 'h.1_a-b', iface: 'eth0.100' } }],
      routes: [{ dst: '10.8.0.0/24', via: '10.9.0.1', dev: 'abcdefghijklmno' }],
    },
  ],
};

describe.skipIf(skipReason)(kernelDescribe('kernel: names the model accepts'), () => {
  test('a lab with dotted, 15-character and keyword-like names comes up and answers', async () => {
    const lab = await KernelLab.up(topo);
    try {
      const r = await lab.exec('h.1_a-b', ['cat', '/proc/sys/net/ipv4/conf/eth0.100/rp_filter']);
      expect(r.stdout.trim()).toBe('1');
      const o = await lab.probe({ from: 'type', proto: 'tcp', dst: '10.8.0.1', dport: 8080, sport: 41000 });
      expect(o.outcome).toBe('delivered');
      expect(o.responder).toBe('h.1_a-b');
    } finally {
      await lab.down();
    }
  });
});
