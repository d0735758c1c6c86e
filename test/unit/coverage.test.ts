// Campaign coverage (issue 14 §4): what a campaign exercised, and what the model implements that it never did.
import { test, expect } from 'vitest';
import { CoverageCounter, coverageUniverse, mergeCoverage, renderCoverage } from '../../src/conform/coverage.ts';
import { fuzz } from '../../src/conform/fuzz.ts';
import { EXTENSIONS } from '../../src/model/index.ts';
import type { CaseFile } from '../../src/conform/case-file.ts';

const CASE: CaseFile = {
  name: 'coverage',
  topology: 'k8s-node',
  hosts: {
    node: {
      backend: 'legacy',
      sysctls: { ip_forward: true, rp_filter: 2 },
      hairpin: ['veth-pod1'],
      ruleset: [
        '*nat',
        '-A PREROUTING -d 10.96.0.100 -m statistic --mode nth --every 2 --packet 0 -j DNAT' +
          ' --to-destination 10.244.1.11',
        '-A PREROUTING -d 10.96.0.100 -j DNAT --to-destination 10.244.1.12',
        'COMMIT',
      ].join('\n'),
    },
  },
  steps: [
    { from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 80, repeat: 3 },
    { iptables: { node: ['-t nat -D PREROUTING 1', '-I INPUT 1 -j ACCEPT'] } },
    { conntrack: { host: 'node', flush: true } },
    { apply: { node: '*filter\n-A INPUT -j NO-SUCH\nCOMMIT\n' }, expectRefused: true },
    { from: 'client', proto: 'udp', dst: '192.168.50.10', dport: 8080, connected: false },
  ],
};

test('a case is counted by option, match, target, sysctl value, step kind, topology variant and outcome', () => {
  const c = new CoverageCounter();
  c.record(CASE, ['delivered', 'delivered', 'dropped', 'delivered']);
  const r = c.report();
  expect(r.cases).toBe(1);
  expect(r.counts.option['statistic --mode']).toBe(1);
  expect(r.counts.option['DNAT --to-destination']).toBe(2);
  expect(r.counts.match.statistic).toBe(1);
  expect(r.counts.target.DNAT).toBe(2);
  expect(r.counts.sysctl['ip_forward=1']).toBe(2); // per node: this one's, and node2's from the preset
  expect(r.counts.sysctl['rp_filter=2']).toBe(1);
  expect(r.counts.step['probe repeated']).toBe(1);
  expect(r.counts.step['probe udp unconnected']).toBe(1);
  expect(r.counts.step['iptables -D']).toBe(1);
  expect(r.counts.step['iptables -I']).toBe(1);
  expect(r.counts.step['conntrack -F']).toBe(1);
  expect(r.counts.step['apply refused']).toBe(1);
  expect(r.counts.topology['iptables legacy']).toBe(1);
  expect(r.counts.topology['hairpin veth-pod1 on']).toBe(1);
  expect(r.counts.topology['hairpin veth-pod2 off']).toBe(1);
  expect(r.counts.outcome).toEqual({ delivered: 3, dropped: 1 });
  // the zero lists: what the model implements minus what was counted
  expect(r.zero.outcome).toEqual(['refused', 'icmp-error', 'echo-reply', 'indeterminate']);
  expect(r.zero.target).toContain('MASQUERADE');
  expect(r.zero.target).not.toContain('DNAT');
  expect(r.zero.step).toContain('wait');
  expect(r.zero.topology).toContain('iptables nft');
  const text = renderCoverage(r);
  expect(text).toMatch(/outcome: 2 of 6 exercised/);
  expect(text).toMatch(/never: refused, icmp-error, echo-reply, indeterminate/);
  expect(renderCoverage(r, { markdown: true })).toMatch(/^\| kind \| exercised/);
});

test('parts of a campaign merge into one report: counts summed, zero only where no part counted', () => {
  const a = new CoverageCounter();
  a.record(CASE, ['delivered', 'dropped']);
  const b = new CoverageCounter();
  b.record({ ...CASE, hosts: { node: { ...CASE.hosts!.node!, backend: 'nft' } } }, ['refused']);
  const m = mergeCoverage([a.report(), b.report()]);
  expect(m.cases).toBe(2);
  expect(m.counts.option['DNAT --to-destination']).toBe(4);
  expect(m.counts.topology['iptables legacy']).toBe(1);
  expect(m.counts.topology['iptables nft']).toBe(1);
  expect(m.counts.outcome).toEqual({ delivered: 1, dropped: 1, refused: 1 });
  // 'iptables nft' was zero in the first part, counted in the second: not zero in the whole
  expect(a.report().zero.topology).toContain('iptables nft');
  expect(m.zero.topology).not.toContain('iptables nft');
  expect(m.zero.outcome).toEqual(['icmp-error', 'echo-reply', 'indeterminate']);
  expect(mergeCoverage([]).cases).toBe(0);
});

test('the universe is the descriptor table: every option of every extension, every target', () => {
  const u = coverageUniverse();
  for (const d of EXTENSIONS) {
    for (const o of d.options) expect(u.option).toContain(`${d.name} ${o.name}`);
    expect(d.type === 'match' ? u.match : u.target).toContain(d.name);
  }
  expect(u.sysctl).toEqual(expect.arrayContaining(['ip_forward=0', 'ip_forward=1', 'rp_filter=1']));
  // an interface's own settings, each value the checker takes
  for (const x of ['forwarding=0', 'rp_filter=2', 'arp_ignore=8', 'arp_announce=2', 'arp_filter=1'])
    expect(u.sysctl).toContain(`conf.IF ${x}`);
  expect(u.sysctl).not.toContain('conf.IF arp_ignore=3');
});

test("a node interface's own sysctls are counted as conf.IF items", () => {
  const c = new CoverageCounter();
  c.record(
    {
      name: 'x',
      topology: 'k8s-node',
      hosts: {
        node: { ifaceSysctls: { eth0: { arp_ignore: 1, arp_filter: true }, cni0: { arp_ignore: 1 } } },
        pod1: { sysctls: { arp_ignore: 2 } },
      },
      steps: [],
    },
    [],
  );
  const r = c.report();
  expect(r.counts.sysctl['conf.IF arp_ignore=1']).toBe(2);
  expect(r.counts.sysctl['conf.IF arp_filter=1']).toBe(1);
  expect(r.zero.sysctl).toContain('conf.IF arp_announce=2');
});

test('a ruleset the model refuses adds no options', () => {
  const c = new CoverageCounter();
  c.record(
    {
      name: 'x',
      topology: 'k8s-node',
      hosts: { node: { ruleset: '*filter\n-A INPUT -j NO-SUCH\nCOMMIT\n' } },
      steps: [],
    },
    [],
  );
  expect(c.report().counts.target).toEqual({});
});

test('a campaign returns its coverage: every case counted, every probe an outcome', async () => {
  const r = await fuzz({ oracle: { kind: 'mutant', mutation: 'none' }, runs: 40, seed: 11 });
  expect(r.coverage.cases).toBe(r.cases);
  const outcomes = Object.values(r.coverage.counts.outcome).reduce((a, b) => a + b, 0);
  expect(outcomes).toBe(r.probes);
  expect(Object.keys(r.coverage.counts.target).length).toBeGreaterThan(3);
});
