// The differential engine's throughput on the kernel (goal: 1,000 random cases in at most 5 minutes).
import { fuzz } from '../src/conform/fuzz.ts';
import { LabPool } from '../src/conform/run-case.ts';
import type { Figure } from './model.ts';

export async function benchFuzz(): Promise<Figure[]> {
  if (process.getuid?.() !== 0) return [{ name: 'fuzz: skipped (not root)', value: 0, unit: '' }];
  const cases = Number(process.env.BENCH_FUZZ_CASES ?? 300);
  const pool = new LabPool({ timeoutMs: 150 });
  try {
    const r = await fuzz({ oracle: { kind: 'kernel', pool }, runs: cases, seed: 20261125, shrinkSeconds: 1 });
    const perMin = r.cases / (r.elapsedMs / 60000);
    return [
      {
        name: `fuzz: random cases per minute on the kernel (${r.cases} cases, ${r.probes} probes${r.divergence ? ', stopped at a divergence' : ''})`,
        value: Math.round(perMin),
        unit: 'cases/min',
      },
      {
        name: 'fuzz: time for 1,000 cases at that rate',
        value: Math.round((1000 / perMin) * 60),
        unit: 's',
        goal: '<= 300 s',
      },
    ];
  } finally {
    await pool.close();
  }
}
