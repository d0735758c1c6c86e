// Model mutants (src/model/mutants.ts): each is the kernel's semantics with one decision replaced,
// injected through makeLab; hand-made cases show that a mutant of each kind of seam changes a verdict.
import { test, expect } from 'vitest';
import { MUTATIONS, modelMutant, KERNEL, type Mutation } from '../../src/model/index.ts';
import { judgeAgainstMutant } from '../../src/conform/mutant.ts';
import type { CaseFile } from '../../src/conform/case-file.ts';

test('there are at least 20 model mutants and each replaces at least one decision of the kernel semantics', () => {
  expect(MUTATIONS.length).toBeGreaterThanOrEqual(20);
  for (const m of MUTATIONS) {
    const s = modelMutant(m).semantics;
    const changed = (Object.keys(KERNEL) as (keyof typeof KERNEL)[]).filter((k) => s[k] !== KERNEL[k]);
    expect(changed.length, m).toBeGreaterThan(0);
  }
});

const node = (ruleset: string, sysctls: Record<string, boolean> = {}): NonNullable<CaseFile['hosts']> => ({
  node: { ruleset, sysctls },
});
const cases: [Mutation, CaseFile][] = [
  [
    'user-chain-end-accepts', // a ruleset misread at load
    {
      name: 'fall off U1',
      topology: 'k8s-node',
      hosts: node('*filter\n:U1 - [0:0]\n-A INPUT -j U1\n-A INPUT -j DROP\nCOMMIT\n'),
      steps: [{ from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 }],
    },
  ],
  [
    'filter-output-before-dnat', // a hook order
    {
      name: 'filter OUTPUT sees the endpoint',
      topology: 'k8s-node',
      hosts: node(
        '*nat\n-A OUTPUT -d 10.96.0.100/32 -p tcp -j DNAT --to-destination' +
          ' 10.244.1.11:8080\nCOMMIT\n*filter\n-A OUTPUT -d 10.244.1.11/32 -j DROP\nCOMMIT\n',
      ),
      steps: [{ from: 'node', proto: 'tcp', dst: '10.96.0.100', dport: 80 }],
    },
  ],
  [
    'hairpin-ignored', // a bridge decision
    {
      name: 'hairpin off',
      topology: 'k8s-node',
      hosts: node('*nat\n-A PREROUTING -d 10.96.0.100/32 -p tcp -j DNAT --to-destination 10.244.1.11:8080\nCOMMIT\n', {
        bridge_nf_call_iptables: true,
      }),
      steps: [{ from: 'pod1', proto: 'tcp', dst: '10.96.0.100', dport: 80 }],
    },
  ],
  [
    'related-not-translated', // NAT of RELATED packets
    {
      name: 'port unreachable through a DNAT',
      topology: 'k8s-node',
      hosts: node('*nat\n-A PREROUTING -d 10.96.0.100/32 -p udp -j DNAT --to-destination 10.244.1.11:7777\nCOMMIT\n'),
      steps: [{ from: 'client', proto: 'udp', dst: '10.96.0.100', dport: 80 }],
    },
  ],
];

for (const [m, c] of cases)
  test(`${m}: ${modelMutant(m).description}`, async () => {
    const r = await judgeAgainstMutant(c, m);
    expect(r.probes).toBe(1);
    expect(r.diffs.length, JSON.stringify(r.diffs)).toBeGreaterThan(0);
    expect((await judgeAgainstMutant(c, 'none')).diffs).toEqual([]);
  });
