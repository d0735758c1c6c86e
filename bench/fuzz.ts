// The differential engine's throughput on the kernel (goal: 1,000 random cases in at most 5 minutes).
// A campaign that meets a divergence has not measured anything valid: it fails the bench (exit 1)
// with the divergence and its replay, and prints no throughput.
import { fuzz } from '../src/conform/fuzz.ts';
import { LabPool } from '../src/conform/run-case.ts';
import type { Figure } from './model.ts';

export const BENCH_FUZZ_SEED = 20261125;

/** Thrown by a bench section whose run is not valid; `bench/run.ts` prints it loudly and exits 1. */
export class BenchFailure extends Error {}

export async function benchFuzz(): Promise<Figure[]> {
  if (process.getuid?.() !== 0) return [{ name: 'fuzz: skipped (not root)', value: 0, unit: '' }];
  const cases = Number(process.env.BENCH_FUZZ_CASES ?? 300);
  const pool = new LabPool({ timeoutMs: 150 });
  try {
    const r = await fuzz({ oracle: { kind: 'kernel', pool }, runs: cases, seed: BENCH_FUZZ_SEED, shrinkSeconds: 1 });
    const d = r.divergence;
    if (d || r.known.length) {
      const lines = [
        `fuzz campaign (seed ${BENCH_FUZZ_SEED}, ${cases} cases) met a divergence after` +
          ` ${r.cases} cases: no valid throughput`,
        ...(d?.diffs ?? []).map(
          (x) =>
            `  ${x.step}: ${x.diff.field}  model ${JSON.stringify(x.diff.model)}  kernel` +
            ` ${JSON.stringify(x.diff.kernel)}`,
        ),
        ...r.known.map((k) => `  known divergence (${k.entry.id}): ${k.diff.step}: ${k.diff.diff.field}`),
        ...(d ? [`  replay: nfconform fuzz --replay ${d.seed}:${d.path}`] : []),
      ];
      throw new BenchFailure(lines.join('\n'));
    }
    if (r.cases !== cases)
      throw new BenchFailure(`fuzz campaign ran ${r.cases} of ${cases} cases: no valid throughput`);
    const perMin = r.cases / (r.elapsedMs / 60000);
    return [
      {
        name: `fuzz: random cases per minute on the kernel (${r.cases} cases, ${r.probes} probes, no divergence)`,
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
