// #12 §4 on the kernel: every real-world file the model reads runs its probes on the model and the kernel;
// each expectation holds on both and they agree (`npm run realworld` prints the same as a table).
import { describe, test, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCorpus, lintSummary, REALWORLD_DIR } from '../../src/conform/realworld.ts';
import { readCase } from '../../src/conform/case-file.ts';
import { runCases, LabPool } from '../../src/conform/run-case.ts';
import { skipReason, kernelDescribe } from './env.ts';

const corpus = readCorpus().filter(
  (e) => lintSummary(readFileSync(join(REALWORLD_DIR, e.rules), 'utf8'), e.rules, e.backend).unsupported.length === 0,
);

describe.skipIf(skipReason)(kernelDescribe('kernel: the real-world corpus'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  for (const e of corpus)
    test(e.id, async () => {
      const [r] = await runCases([readCase(join(REALWORLD_DIR, e.case), {})], { sides: 'both', pool });
      const problems = (r?.steps ?? []).flatMap((s) => [
        ...s.modelMisses.map((m) => `${s.label}: model ${m}`),
        ...s.kernelMisses.map((m) => `${s.label}: kernel ${m}`),
        ...s.diffs.map(
          (d) => `${s.label}: ${d.field} model=${JSON.stringify(d.model)} kernel=${JSON.stringify(d.kernel)}`,
        ),
      ]);
      expect(r?.error ?? null).toBeNull();
      expect(problems).toEqual([]);
      expect([r?.model, r?.kernel, r?.agree]).toEqual(['pass', 'pass', 'pass']);
    });
});
