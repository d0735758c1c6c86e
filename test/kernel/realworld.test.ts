// #12 §4 on the kernel: every real-world file runs its probes on the kernel, whose observations meet the
// expectations; where the model traces every probe end to end, model and kernel agree on every field
// (`npm run realworld` prints the same as a table, with the files the model cannot trace yet).
import { describe, test, expect, afterAll } from 'vitest';
import { readCorpus, measureCorpus } from '../../src/conform/realworld.ts';
import { LabPool } from '../../src/conform/run-case.ts';
import { skipReason, kernelDescribe } from './env.ts';

describe.skipIf(skipReason)(kernelDescribe('kernel: the real-world corpus'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  for (const e of readCorpus())
    test(e.id, async () => {
      const [row] = await measureCorpus([e], { sides: 'both', pool });
      if (!row) throw new Error('no row');
      // the kernel meets every expectation whenever the case could run
      expect(row.problems.filter((p) => p.includes(': kernel '))).toEqual([]);
      if (row.traceable) {
        expect(row.problems).toEqual([]);
        expect(row.agreeing).toBe(row.probes);
      }
    });
});
