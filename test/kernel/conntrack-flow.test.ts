// Issue 17: a probe's conntrack entries are looked up by tuple (ctnetlink), not read off the whole table. They
// must be exactly the flow's entries of the whole table, on every host the flow crossed through NAT, and the
// model must agree.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { PairedLab } from '../../src/conform/paired-lab.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import type { ConntrackRecord } from '../../src/model/index.ts';
import { skipReason, kernelDescribe } from './env.ts';

const nat = (...rules: string[]) => `*nat\n${rules.join('\n')}\nCOMMIT\n`;

describe.skipIf(skipReason)(kernelDescribe('kernel: a probe sees the conntrack entries of its own flow'), () => {
  let lab: PairedLab;
  beforeAll(async () => {
    lab = await PairedLab.up(k8sNode());
  });
  afterAll(async () => {
    await lab?.down();
  });

  test('through MASQUERADE on the node and DNAT on the client: both hosts, no other flow', async () => {
    await lab.reset();
    expect((await lab.apply('node', nat('-A POSTROUTING -o eth0 -j MASQUERADE'))).kernelOk).toBe(true);
    expect(
      (await lab.apply('client', nat('-A PREROUTING -p udp --dport 53 -j DNAT --to-destination :8080'))).kernelOk,
    ).toBe(true);
    const seen: Record<string, ConntrackRecord[]>[] = [];
    for (const [from, sport] of [
      ['pod1', 41000],
      ['pod2', 41001],
      ['pod1', 41002],
    ] as const) {
      const r = await lab.probe({ from, proto: 'udp', dst: '192.168.50.20', dport: 53, sport });
      expect(r.verdict.diffs, JSON.stringify(r.kernel)).toEqual([]);
      expect(r.kernel.outcome).toBe('delivered');
      const ct = r.kernel.conntrack;
      expect(Object.keys(ct).sort()).toEqual(['client', 'node']);
      expect(ct.node!.map((e) => e.orig)).toEqual([
        `${from === 'pod1' ? '10.244.1.11' : '10.244.1.12'}:${sport}>192.168.50.20:53`,
      ]);
      expect(ct.client).toHaveLength(1);
      expect(ct.client![0]!.reply).toMatch(/^192\.168\.50\.20:8080>192\.168\.50\.10:\d+$/);
      seen.push(ct);
    }
    // the whole tables hold every flow, and each probe's entries are among them
    const all = await lab.kernel.conntrack();
    expect(all.node).toHaveLength(3);
    expect(all.client).toHaveLength(3);
    for (const ct of seen)
      for (const [h, list] of Object.entries(ct)) for (const e of list) expect(all[h]).toContainEqual(e);
  });

  test('a repeated source port shows the earlier flow; ICMP and TCP flows are found by their tuples', async () => {
    await lab.reset();
    await lab.apply('node', nat('-A PREROUTING -d 10.96.0.100 -j DNAT --to-destination 10.244.1.11'));
    const tcp = await lab.probe({ from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 8080, sport: 42000 });
    expect(tcp.verdict.diffs).toEqual([]);
    expect(tcp.kernel.conntrack.node).toMatchObject([
      { proto: 'tcp', orig: '192.168.50.20:42000>10.96.0.100:8080', state: 'TIME_WAIT', flags: ['ASSURED'] },
    ]);
    const ping = await lab.probe({ from: 'client', proto: 'icmp', dst: '10.96.0.100', sport: 42001 });
    expect(ping.verdict.diffs).toEqual([]);
    expect(ping.kernel.conntrack.node).toMatchObject([
      { proto: 'icmp', orig: '192.168.50.20>10.96.0.100 id=42001', reply: '10.244.1.11>192.168.50.20 id=42001' },
    ]);
    const udp1 = await lab.probe({ from: 'pod2', proto: 'udp', dst: '10.96.0.100', dport: 8080, sport: 42002 });
    const udp2 = await lab.probe({ from: 'pod2', proto: 'udp', dst: '10.96.0.100', dport: 8080, sport: 42002 });
    expect(udp2.verdict.diffs).toEqual([]);
    expect(udp2.kernel.conntrack.node).toEqual(udp1.kernel.conntrack.node);
    expect(udp2.kernel.conntrack.node).toHaveLength(1);
  });
});
