import { test, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { knownFor, loadRegistry, matchesPattern, type KnownDivergence } from '../../src/conform/divergences.ts';
import { judgeCase } from '../../src/conform/fuzz.ts';
import { caseFromDraw } from '../../src/conform/fuzz-arbitraries.ts';

test('the registry loads and is empty: every divergence found so far was fixed', () => {
  expect(loadRegistry()).toEqual([]);
});

test('a registered divergence is matched by field and by a structural pattern of each side', () => {
  const reg: KnownDivergence[] = [
    { id: 'K1', field: 'conntrack.', kernel: [{ state: 'ESTABLISHED' }], reason: 'test' },
    { id: 'K2', field: 'outcome', model: 'delivered', kernel: 'dropped', reason: 'test' },
  ];
  const ct = (state: string) => [{ orig: 'a>b', state }];
  expect(knownFor({ field: 'conntrack.node', model: [], kernel: ct('ESTABLISHED') }, reg)?.id).toBe('K1');
  expect(knownFor({ field: 'conntrack.node', model: [], kernel: ct('SYN_SENT') }, reg)).toBeUndefined();
  expect(knownFor({ field: 'conntrack.node', model: [], kernel: [] }, reg)).toBeUndefined();
  expect(knownFor({ field: 'seen', model: null, kernel: null }, reg)).toBeUndefined();
  expect(knownFor({ field: 'outcome', model: 'delivered', kernel: 'dropped' }, reg)?.id).toBe('K2');
  // no text matching: a value that merely prints alike is not the pattern
  expect(knownFor({ field: 'outcome', model: 'delivered!', kernel: 'dropped' }, reg)).toBeUndefined();
  expect(matchesPattern({ a: [1] }, { a: [2, 1], b: 3 })).toBe(true);
  expect(matchesPattern({ a: [1] }, { a: 1 })).toBe(false);
});

test('a malformed registry is refused with its JSON path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-reg-'));
  const file = join(dir, 'divergences.json');
  writeFileSync(file, JSON.stringify({ known: [{ id: 'K', field: 'seen', reson: 'typo' }] }, null, 2));
  expect(() => loadRegistry(file)).toThrow(/divergences\.json:\d+:\d+.*known\[0\]/s);
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
