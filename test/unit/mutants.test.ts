// Every compiler mutant really changes what is compiled for the fixture Services (no dead mutant).
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { readCluster, type Cluster } from '../../src/kube/objects.ts';
import { compileNode } from '../../src/kube/compile.ts';
import { MUTANTS } from '../../src/kube/mutants.ts';

const cluster = readCluster(readFileSync(new URL('../../suites/fixtures/services.json', import.meta.url), 'utf8'));
const both = (c: Cluster, rules: (t: string) => string = (t) => t) =>
  ['node', 'node2'].map((n) => rules(compileNode(c, { nodeName: n, clusterCIDR: '10.244.0.0/16' }))).join('\n');
const reference = both(cluster);

test('at least 15 mutants, each changing the compiled rules', () => {
  expect(MUTANTS.length).toBeGreaterThanOrEqual(15);
  for (const m of MUTANTS) {
    const text = both(m.services ? m.services(cluster) : cluster, m.rules);
    expect(text, m.name).not.toBe(reference);
  }
});
