// The parser judged by iptables itself (spec/iptables.md §8): generated rule texts, every option
// of every extension in the descriptor table in the spellings iptables accepts, read by `lint` and
// by the real iptables-restore + iptables-save in a throw-away `unshare -n` namespace. Same
// acceptance and same canonical text, on both backends. `scripts/parser-agreement.ts` runs
// 10,000 per backend; this test a bounded sample with a fresh seed each run (printed on failure).
import { describe, test, expect } from 'vitest';
import { measureAgreement } from '../../src/conform/parser-agreement.ts';
import { skipReason, kernelDescribe } from './env.ts';

const N = 1500;
/** Below this, a run fails; spec/divergences.md lists the differences that remain. */
const MIN_AGREEMENT = 0.99;

describe.skipIf(skipReason)(kernelDescribe('kernel: the parser agrees with iptables 1.8.9'), () => {
  for (const backend of ['nft', 'legacy'] as const) {
    test(`iptables-${backend}: ${N} generated rules`, { timeout: 600_000 }, async () => {
      const seed = Date.now() % 1_000_000_007;
      const r = await measureAgreement(backend, N, seed);
      const shown = r.disagreements
        .slice(0, 10)
        .map(
          (d) =>
            `[${d.kind}] ${d.item.table} ${d.item.builtin ?? `user<-${d.item.via ?? '-'}`}: ${d.item.spec}\n` +
            `   lint:     ${d.lint.ok ? d.lint.rules.join(' | ') : d.lint.message}\n` +
            `   iptables: ${d.iptables.ok ? d.iptables.rules.join(' | ') : d.iptables.message.split('\n').join(' ')}`,
        )
        .join('\n');
      // the run must have judged something on both sides
      expect(r.checked).toBe(N);
      expect(r.accepted).toBeGreaterThan(N / 10);
      expect(r.agreed / r.checked, `seed ${seed}: ${r.disagreements.length} differ\n${shown}`).toBeGreaterThanOrEqual(
        MIN_AGREEMENT,
      );
    });
  }
});
