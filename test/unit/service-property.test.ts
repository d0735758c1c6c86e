// Random Service sets: the Service-level oracle and the model over the compiled rules agree.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { serviceCaseArb, serviceCase } from '../../src/conform/service-arbitraries.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { assertAsyncProperty } from '../helpers/property.ts';
import { modeDiff, modeDiffArb, modeDiffOf } from '../../src/conform/mode-diff.ts';

test('oracle and model agree on random Service sets and probes', async () => {
  await assertAsyncProperty(
    fc.asyncProperty(serviceCaseArb(20), async (d) => {
      const [r] = await runCases([serviceCase(d)], { sides: 'model' });
      const misses = r!.steps.flatMap((s) => s.oracleMisses.map((m) => `${s.label}: ${m}`));
      expect(r!.error ?? null).toBeNull();
      expect(misses).toEqual([]);
    }),
    { numRuns: 200 },
  );
}, 120_000);

test('in nftables mode too: oracle and model agree on random Service sets and probes', async () => {
  await assertAsyncProperty(
    fc.asyncProperty(serviceCaseArb(20), async (d) => {
      const [r] = await runCases([serviceCase(d)], { sides: 'model', mode: 'nftables' });
      const misses = r!.steps.flatMap((s) => s.oracleMisses.map((m) => `${s.label}: ${m}`));
      expect(r!.error ?? null).toBeNull();
      expect(r!.model).not.toBe('skip');
      expect(misses).toEqual([]);
    }),
    { numRuns: 100 },
  );
}, 180_000);

test('iptables mode against nftables mode on random Service sets: every difference is a documented one', async () => {
  const r = await modeDiff(40, 20261201);
  expect(r.sets).toBe(40);
  expect(r.probes).toBeGreaterThan(60);
  expect(r.documented).toBeGreaterThan(0);
  expect(r.undocumented).toEqual([]);
}, 180_000);

test('mode differential: a connection no endpoint took makes no affinity entry to stick to', async () => {
  // seed 20261202, draw 686: node2 sends TCP to a UDP Service's NodePort (refused), then UDP to its ClusterIP; the
  // second is a first connection in both modes (each picks its most likely endpoint for the repetitions)
  const draw = fc.sample(modeDiffArb(12), { numRuns: 687, seed: 20261202 })[686]!;
  expect(draw.probes.map((p) => `${p.from} ${p.proto} ${p.dst}`)).toContain('node2 udp 10.96.1.1');
  const r = await modeDiffOf([draw], 20261202);
  expect(r.sticky).toBeGreaterThan(0);
  expect(r.undocumented).toEqual([]);
});
