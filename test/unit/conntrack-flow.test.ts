// A probe's observation lists the conntrack entries of its own flow (spec/observation.md): not the entries of
// earlier probes, but an earlier flow's entry again when a probe reuses its tuple; across hosts through NAT.
import { test, expect } from 'vitest';
import { makeLab, newWorld, runProbe, parseRuleset, k8sNode, compileTopology } from '../../src/model/index.ts';
import { flowEntries as wireFlow, type WireEntry, type WireTuple } from '../../src/lab/conntrack-flow.ts';

const nat = (...rules: string[]) => parseRuleset(['*nat', ...rules, 'COMMIT', ''].join('\n'), { file: 'r' });

test("each repetition shows its own entry only; a reused source port shows the earlier flow's entry", () => {
  const lab = makeLab(
    compileTopology(k8sNode()),
    new Map([['node', nat('-A PREROUTING -d 10.96.0.100/32 -p tcp -j DNAT --to-destination 10.244.1.11:8080')]]),
  );
  let world = newWorld(lab);
  const probe = { from: 'client', proto: 'tcp' as const, dst: '10.96.0.100', dport: 80 };
  for (let i = 0; i < 50; i++) {
    const [r] = runProbe(lab, world, { ...probe, sport: 41000 + i });
    expect(r!.value.observation.conntrack.node!.map((e) => e.orig)).toEqual([
      `192.168.50.20:${41000 + i}>10.96.0.100:80`,
    ]);
    world = r!.value.world;
  }
  const [again] = runProbe(lab, world, { ...probe, sport: 41007 });
  expect(again!.value.observation.conntrack.node!.map((e) => e.orig)).toEqual(['192.168.50.20:41007>10.96.0.100:80']);
});

test('the flow is followed across hosts: the next host finds its entry by the tuple after NAT', () => {
  const lab = makeLab(
    compileTopology(k8sNode()),
    new Map([
      ['node', nat('-A POSTROUTING -o eth0 -j MASQUERADE')],
      ['client', nat('-A PREROUTING -p udp -j DNAT --to-destination 192.168.50.20:8080')],
    ]),
  );
  const [r] = runProbe(lab, newWorld(lab), {
    from: 'pod1',
    proto: 'udp',
    dst: '192.168.50.20',
    dport: 53,
    sport: 41000,
  });
  const ct = r!.value.observation.conntrack;
  expect(ct.node!.map((e) => e.orig)).toEqual(['10.244.1.11:41000>192.168.50.20:53']);
  expect(ct.client!.map((e) => e.orig)).toEqual(['192.168.50.10:41000>192.168.50.20:53']);
});

test("the lab's lookup asks each host only about tuples other hosts' entries added", async () => {
  const t = (src: string, sp: number, dst: string, dp: number): WireTuple => [17, src, sp, dst, dp];
  const tables: Record<string, WireEntry[]> = {
    node: [
      {
        orig: t('10.244.1.11', 41000, '192.168.50.20', 53),
        reply: t('192.168.50.20', 53, '192.168.50.10', 41000),
        state: null,
        flags: [],
      },
    ],
    client: [
      {
        orig: t('192.168.50.10', 41000, '192.168.50.20', 53),
        reply: t('192.168.50.20', 8080, '192.168.50.10', 41000),
        state: null,
        flags: [],
      },
    ],
    node2: [
      {
        orig: t('10.244.2.13', 41000, '192.168.50.20', 53),
        reply: t('192.168.50.20', 53, '10.244.2.13', 41000),
        state: null,
        flags: [],
      },
    ],
  };
  const asked: string[] = [];
  const pairs: string[] = [];
  const key = (x: WireTuple) => x.join(' ');
  const lookup = async (h: string, tuples: WireTuple[]) => {
    asked.push(`${h}:${tuples.length}`);
    pairs.push(...tuples.map((x) => `${h} ${key(x)}`));
    const ks = new Set(tuples.map(key));
    return tables[h]!.filter((e) => ks.has(key(e.orig)) || ks.has(key(e.reply)));
  };
  const ct = await wireFlow(['node', 'client', 'node2'], t('10.244.1.11', 41000, '192.168.50.20', 53), lookup);
  expect(Object.keys(ct).sort()).toEqual(['client', 'node']);
  expect(ct.client![0]).toEqual({
    proto: 'udp',
    orig: '192.168.50.10:41000>192.168.50.20:53',
    reply: '192.168.50.20:8080>192.168.50.10:41000',
    state: null,
    flags: [],
  });
  // first the start tuple everywhere, then only tuples a host was not asked about (by us or its own helper)
  expect(asked.slice(0, 3).sort()).toEqual(['client:1', 'node2:1', 'node:1']);
  expect(new Set(pairs).size).toBe(pairs.length);
  expect(pairs.filter((x) => x.startsWith('node ') && x.includes('192.168.50.20 53 10.244.1.11 41000'))).toEqual([]);
});
