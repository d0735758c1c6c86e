// Issue 17: one DNAT probe repeated n times must cost the same time per repetition whatever n, and memory that
// does not grow with the report. Each size runs in its own process (its peak RSS is its own), model alone and
// model beside the kernel; the figures are compared with the code before the bounded step results.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import type { Figure } from './model.ts';

interface One {
  ms: number;
  maxRssMb: number;
  /** live heap at the last repetition, above the heap before the run (after a full GC) */
  heapMb: number;
  /** the case's report as JSON */
  reportKb: number;
  marks: string[];
}

/**
 * The same runner on main at eb74a59 (every repetition's observations kept in the step result and the report),
 * on this machine, 2026-12-02, load average 14-17 (other jobs: the times are noisy, the sizes are not). Earlier
 * still (9737d0f, the whole conntrack table in every observation), `check --json` took 28 s and 1.6 GB at 1000
 * and 163 s at 2000 (load average 1.5).
 */
export const REPEAT_BEFORE: Record<'model' | 'both', Record<number, Omit<One, 'marks'>>> = {
  model: {
    500: { ms: 577, maxRssMb: 114, heapMb: 1.9, reportKb: 195 },
    4000: { ms: 3916, maxRssMb: 139, heapMb: 10, reportKb: 1449 },
  },
  both: {
    500: { ms: 2684, maxRssMb: 124, heapMb: 2, reportKb: 362 },
    4000: { ms: 9711, maxRssMb: 137, heapMb: 10.6, reportKb: 2789 },
  },
};

const ONE = fileURLToPath(new URL('./repeat-one.ts', import.meta.url));

async function runOne(n: number, sides: 'model' | 'both'): Promise<One> {
  const r = await execa(process.execPath, ['--expose-gc', '--import', 'tsx', ONE, String(n), sides], { reject: false });
  if (r.exitCode !== 0) throw new Error(`repeat ${n}: ${r.stderr || r.stdout}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as One;
  if (out.marks.some((m) => m === 'fail')) throw new Error(`repeat ${n}: the case failed (${out.marks.join(' ')})`);
  return out;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function benchRepeat(): Promise<Figure[]> {
  const all: ('model' | 'both')[] = process.getuid?.() === 0 ? ['model', 'both'] : ['model'];
  const sizes = (process.env.BENCH_REPEATS ?? '500,1000,2000,4000').split(',').map(Number);
  const figures: Figure[] = [];
  for (const sides of all) {
    const got = new Map<number, One>();
    for (const n of sizes) {
      const out = await runOne(n, sides);
      got.set(n, out);
      const before = REPEAT_BEFORE[sides][n];
      const vs = (now: number, then: number | undefined) =>
        then ? ` (before ${round(then)}: x${round(now / then)})` : '';
      figures.push(
        {
          name: `repeat ${sides}: ${n} DNAT probes, time per repetition${vs(out.ms / n, before && before.ms / n)}`,
          value: round(out.ms / n),
          unit: 'ms',
          goal: 'flat in n',
        },
        {
          name: `repeat ${sides}: ${n}, peak RSS${vs(out.maxRssMb, before?.maxRssMb)}`,
          value: out.maxRssMb,
          unit: 'MB',
        },
        {
          name: `repeat ${sides}: ${n}, live heap at the last repetition${vs(out.heapMb, before?.heapMb)}`,
          value: out.heapMb,
          unit: 'MB',
          goal: "the model's conntrack table only",
        },
        {
          name: `repeat ${sides}: ${n}, the report's JSON${vs(out.reportKb, before?.reportKb)}`,
          value: out.reportKb,
          unit: 'KB',
          goal: 'flat in n',
        },
      );
    }
    const lo = got.get(Math.min(...sizes))!;
    const hi = got.get(Math.max(...sizes))!;
    const ratio = (hi.ms / Math.max(...sizes) / (lo.ms / Math.min(...sizes))).toFixed(2);
    figures.push({
      name: `repeat ${sides}: time per repetition at ${Math.max(...sizes)} / at ${Math.min(...sizes)}`,
      value: Number(ratio),
      unit: 'x',
      goal: '<= 1.5 (linear)',
    });
  }
  return figures;
}
