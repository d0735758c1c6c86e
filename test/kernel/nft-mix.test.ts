// A small fixed-seed kernel campaign over namespaces mixing native nft with iptables in random load orders
// (src/conform/nft-mix-arbitraries.ts; larger ones: scripts/nft-fuzz.ts): the model agrees with the kernel.
import { describe, test, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { nftMixCase } from '../../src/conform/nft-mix-arbitraries.ts';
import { runCases, LabPool } from '../../src/conform/run-case.ts';
import { skipReason, kernelDescribe } from './env.ts';

describe.skipIf(skipReason)(kernelDescribe('kernel: mixed nft + iptables namespaces (fuzz, fixed seed)'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  const cases = fc.sample(nftMixCase, { numRuns: 8, seed: 20261201 });
  for (const [i, c] of cases.entries()) {
    test(`case ${i}`, async () => {
      const [r] = await runCases([{ ...c, name: `nft mix ${i}` }], { sides: 'both', pool });
      const diffs = r!.steps.flatMap((s) => s.diffs.map((d) => `${s.label}: ${d.field} ${JSON.stringify(d)}`));
      expect(r!.error ?? null).toBeNull();
      expect(diffs).toEqual([]);
      expect(r!.agree).toBe('pass');
    });
  }
});
