// The mixed nft + iptables namespaces of the nft fuzz (src/conform/nft-mix-arbitraries.ts): every drawn case
// is valid input that the model runs (the kernel campaign: scripts/nft-fuzz.ts, test/kernel/nft-mix.test.ts).
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { nftMixCase } from '../../src/conform/nft-mix-arbitraries.ts';
import { planCase, acceptedRulesets } from '../../src/conform/plan.ts';
import { pairedRun } from '../../src/conform/paired-run.ts';

test('drawn cases load and run on the model; they mix sources, orders, nat and nft steps', async () => {
  const cases = fc.sample(nftMixCase, { numRuns: 60, seed: 11 });
  let mixed = 0;
  let reordered = 0;
  let nat = 0;
  const steps = { ran: 0, refused: 0 };
  for (const c of cases) {
    const plan = await planCase(c);
    acceptedRulesets(plan);
    for await (const r of pairedRun(plan)) {
      if (r.step.kind === 'probe') expect(r.model.length).toBeGreaterThan(0);
      // nft steps between probes: run on the host's state, some refused as the kernel would
      for (const v of Object.values(r.commanded?.model ?? {})) v === null ? steps.ran++ : steps.refused++;
    }
    const node = c.hosts!.node!;
    if (node.ruleset) mixed++;
    if (node.loadOrder && node.loadOrder[0] !== 'ruleset') reordered++;
    if (/type nat/.test(node.nft!)) nat++;
  }
  expect(mixed).toBeGreaterThan(20);
  expect(reordered).toBeGreaterThan(10);
  expect(nat).toBeGreaterThan(10);
  expect(steps.ran).toBeGreaterThan(20);
  expect(steps.refused).toBeGreaterThan(5);
});
