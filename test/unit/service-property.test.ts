// Random Service sets: the Service-level oracle and the model over the compiled rules agree.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { serviceCaseArb, serviceCase } from '../../src/conform/service-arbitraries.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { assertAsyncProperty } from '../helpers/property.ts';

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
