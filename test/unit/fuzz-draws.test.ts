// Labs side by side (fuzz.ts) hand out fc.sample's draws for the seed: they must be fc.check's, in order, and
// run i must replay as path "i", or a campaign on several labs would not be the campaign on one.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { caseDrawArb } from '../../src/conform/fuzz-arbitraries.ts';

test('fc.sample draws what fc.check runs, and path "i" replays run i', async () => {
  const arb = caseDrawArb({ maxRules: 6, maxProbes: 5 });
  const checked: string[] = [];
  await fc.check(
    fc.asyncProperty(arb, async (d) => (checked.push(JSON.stringify(d)), true)),
    { seed: 20261201, numRuns: 25 },
  );
  const sampled = fc.sample(arb, { seed: 20261201, numRuns: 25 }).map((d) => JSON.stringify(d));
  expect(sampled).toEqual(checked);
  let replayed = '';
  await fc.check(
    fc.asyncProperty(arb, async (d) => ((replayed = JSON.stringify(d)), true)),
    { seed: 20261201, numRuns: 1, path: '13' },
  );
  expect(replayed).toBe(checked[13]);
});
