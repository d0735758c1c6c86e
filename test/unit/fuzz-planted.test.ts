// The differential engine finds a planted model bug and shrinks it to a small case.
import { test, expect } from 'vitest';
import { fuzz } from '../../src/conform/fuzz.ts';
import { caseFromDraw, type CaseDraw } from '../../src/conform/fuzz-arbitraries.ts';

test('a planted bug (MASQUERADE ignores the outgoing interface) is found and shrunk to a few rules', async () => {
  const r = await fuzz({
    oracle: { kind: 'mutant', mutation: 'masquerade-first-address' },
    runs: 3000,
    seed: 5,
    shrinkSeconds: 30,
  });
  expect(r.divergence, `no divergence in ${r.cases} cases`).toBeDefined();
  const d = r.divergence!;
  const draw = d.draw as CaseDraw;
  // the shrunk case: its rules (random ones and the reach recipes') and its probes
  const c = caseFromDraw(draw);
  const rules = Object.values(c.hosts ?? {})
    .flatMap((h) => (h.ruleset ?? '').split('\n'))
    .filter((l) => l.startsWith('-A'));
  expect(rules.length).toBeLessThanOrEqual(3);
  expect(rules.some((l) => l.includes('MASQUERADE'))).toBe(true);
  expect(c.steps.filter((s) => 'from' in s).length).toBeLessThanOrEqual(3);
  expect(d.diffs.some((x) => x.diff.field === 'seen' || x.diff.field.startsWith('conntrack'))).toBe(true);
  // the seed and path replay the same shrunk case
  const again = await fuzz({
    oracle: { kind: 'mutant', mutation: 'masquerade-first-address' },
    replay: { seed: d.seed, path: d.path },
  });
  expect(again.divergence?.draw).toEqual(d.draw);
}, 120_000);

test('the reference model agrees with itself (no divergence without a planted bug)', async () => {
  const r = await fuzz({ oracle: { kind: 'mutant', mutation: 'none' }, runs: 300, seed: 7 });
  expect(r.divergence).toBeUndefined();
  expect(r.cases).toBe(300);
});
