import { test, expect } from 'vitest';
import { knownFor, loadRegistry, type KnownDivergence } from '../../src/conform/divergences.ts';
import { judgeCase } from '../../src/conform/fuzz.ts';
import { caseFromDraw } from '../../src/conform/fuzz-arbitraries.ts';

test('the registry loads and is empty: every divergence found so far was fixed', () => {
  expect(loadRegistry()).toEqual([]);
});

test('a registered divergence is matched by field and by the values of each side', () => {
  const reg: KnownDivergence[] = [{ id: 'K1', field: 'conntrack.', kernel: 'id=', reason: 'test' }];
  expect(knownFor({ field: 'conntrack.node', model: [], kernel: [{ orig: 'a>b id=1' }] }, reg)?.id).toBe('K1');
  expect(knownFor({ field: 'seen', model: null, kernel: null }, reg)).toBeUndefined();
  expect(knownFor({ field: 'conntrack.node', model: [], kernel: [] }, reg)).toBeUndefined();
});

test('a known divergence is reported, not failed', async () => {
  const c = caseFromDraw({
    backend: 'nft',
    ipForward: true,
    brNf: true,
    routeLocalnet: false,
    hairpin1: false,
    hairpin2: false,
    rules: [{ table: 'nat', chain: 3, target: '-j MASQUERADE' }],
    probes: [{ from: 'pod1', proto: 'tcp', dst: '10.0.2.11', dport: 8080 }],
  });
  const oracle = { kind: 'mutant' as const, mutation: 'masquerade-first-address' as const };
  const failing = await judgeCase(c, oracle, []);
  expect(failing.diffs.length).toBeGreaterThan(0);
  const registry: KnownDivergence[] = [
    { id: 'K-masq', field: 'seen', reason: 'planted' },
    { id: 'K-ct', field: 'conntrack.', reason: 'planted' },
  ];
  const known = await judgeCase(c, oracle, registry);
  expect(known.diffs).toEqual([]);
  expect(known.known.map((k) => k.entry.id).sort()).toEqual(
    [...new Set(failing.diffs.map((d) => (d.diff.field === 'seen' ? 'K-masq' : 'K-ct')))].sort(),
  );
});
