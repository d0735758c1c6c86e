// Every suite case on the kernel, with iptables-nft and with iptables-legacy: its expectations
// hold, the model agrees, and (for Services) the Service-level oracle too.
import { describe, test, expect, afterAll } from 'vitest';
import { loadCase, findCaseFiles } from '../../src/conform/case-file.ts';
import { runCases, LabPool, type CaseReport } from '../../src/conform/run-case.ts';
import { crossDiffs } from '../../src/conform/cross-compare.ts';
import { skipReason, kernelDescribe } from './env.ts';

/** each flavor's reports, filled case by case, for the cross-comparison at the end */
const runs: Record<'nft' | 'legacy', CaseReport[]> = { nft: [], legacy: [] };

for (const iptables of ['nft', 'legacy'] as const) {
  describe.skipIf(skipReason)(kernelDescribe(`kernel: suites (iptables-${iptables})`), () => {
    const cases = findCaseFiles().map(loadCase);
    // one lab pool, so that the lab is reused; each case runs in its own test, within its own timeout
    const pool = new LabPool();
    afterAll(async () => {
      await pool.close();
    });
    for (const c of cases) {
      test(c.name, async () => {
        const [r] = await runCases([c], { sides: 'both', iptables, pool });
        if (!r) throw new Error('no report');
        runs[iptables].push(r);
        const problems = r.steps.flatMap((s) => [
          ...s.kernelMisses.map((m) => `${s.label}: kernel ${m}`),
          ...s.oracleMisses.map((m) => `${s.label}: oracle ${m}`),
          ...s.diffs.map(
            (d) => `${s.label}: ${d.field} model=${JSON.stringify(d.model)} kernel=${JSON.stringify(d.kernel)}`,
          ),
        ]);
        expect(r.error ?? null).toBeNull();
        expect(problems).toEqual([]);
        expect([r.kernel, r.agree]).toEqual(['pass', 'pass']);
      });
    }
  });
}

describe.skipIf(skipReason)(kernelDescribe('kernel: iptables-nft against iptables-legacy'), () => {
  test('every comparable step of every suite is observed the same on both', async () => {
    const { compared, diffs } = crossDiffs(runs.nft, runs.legacy);
    expect(compared).toBeGreaterThan(100);
    expect(diffs).toEqual([]);
  });
});
