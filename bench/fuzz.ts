// The differential engine's throughput on the kernel (goal: 1,000 random cases a minute, issue 14 §4).
// A campaign that meets a divergence has not measured anything valid: it fails the bench (exit 1)
// with the divergence and its replay, and prints no throughput.
import { fuzz } from '../src/conform/fuzz.ts';
import { LabPool } from '../src/conform/run-case.ts';
import { PhaseTimes, renderProfile } from '../src/lab/profile.ts';
import type { Figure } from './model.ts';
import { loadavg, cpus } from 'node:os';
import { readFileSync } from 'node:fs';

export const BENCH_FUZZ_SEED = 20261125;

/** Thrown by a bench section whose run is not valid; `bench/run.ts` prints it loudly and exits 1. */
export class BenchFailure extends Error {}

/** One campaign of the bench's seed on `labs` labs side by side; a divergence fails the bench. */
async function campaign(cases: number, labs: number): Promise<{ perMin: number; probes: number }> {
  const profile = new PhaseTimes();
  const pool = new LabPool({ timeoutMs: 150, profile }, { spare: true });
  try {
    const r = await fuzz({
      oracle: { kind: 'kernel', pool },
      runs: cases,
      seed: BENCH_FUZZ_SEED,
      shrinkSeconds: 1,
      labs,
    });
    const d = r.divergence;
    if (d || r.known.length) {
      const lines = [
        `fuzz campaign (seed ${BENCH_FUZZ_SEED}, ${cases} cases, ${labs} labs) met a divergence after` +
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
    // where the time went, before the figures (issue 14 §4)
    const table = renderProfile(profile.report(), r.elapsedMs, labs, profile.buildCauses());
    console.log(`\nfuzz campaign, ${cases} cases on ${labs} lab(s):\n${table}`);
    return { perMin: r.cases / (r.elapsedMs / 60000), probes: r.probes };
  } finally {
    await pool.close();
  }
}

/** Busy core-seconds of the whole machine so far (/proc/stat: user, nice, system, irq, softirq, steal) */
function busyCoreSeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
}

/** The same seed on one lab (BENCH_FUZZ_ONE_CASES cases, default 100: one lab runs ~30 a minute) and then on each
 *  count of BENCH_FUZZ_LABS labs side by side (a comma list, default 24,64) with BENCH_FUZZ_CASES cases (default
 *  1,000: the goal is a rate, and a short campaign is mostly its first lab builds), back to back: the machine is
 *  shared, and the ratios, under the same load, are the figures that travel. Labs wait out most of a dropped probe's
 *  timeout idle, so more labs than cores pay (README "Figures"). */
export async function benchFuzz(): Promise<Figure[]> {
  if (process.getuid?.() !== 0) return [{ name: 'fuzz: skipped (not root)', value: 0, unit: '' }];
  const cases = Number(process.env.BENCH_FUZZ_CASES ?? 1000);
  const oneCases = Number(process.env.BENCH_FUZZ_ONE_CASES ?? 100);
  const counts = (process.env.BENCH_FUZZ_LABS ?? '24,64').split(',').map(Number);
  const load0 = loadavg()[0]!;
  const one = await campaign(oneCases, 1);
  const many: { labs: number; perMin: number; coreSecondsPerCase: number }[] = [];
  for (const labs of counts) {
    const cpu0 = busyCoreSeconds();
    const r = await campaign(cases, labs);
    many.push({ labs, ...r, coreSecondsPerCase: (busyCoreSeconds() - cpu0) / cases });
  }
  const load1 = loadavg()[0]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  const best = many.reduce((a, b) => (b.perMin > a.perMin ? b : a), { labs: 1, perMin: one.perMin });
  return [
    {
      name: `fuzz: random cases per minute, one lab (${oneCases} cases, ${one.probes} probes, no divergence)`,
      value: Math.round(one.perMin),
      unit: 'cases/min',
    },
    ...many.flatMap((m) => [
      {
        name: `fuzz: random cases per minute, ${m.labs} labs side by side (${cases} cases, no divergence)`,
        value: Math.round(m.perMin),
        unit: 'cases/min',
        goal: '>= 1,000',
      },
      { name: `fuzz: ${m.labs} labs against one lab`, value: round(m.perMin / one.perMin), unit: 'x' },
      {
        name: `fuzz: ${m.labs} labs, the machine's busy CPU per case`,
        value: Math.round(m.coreSecondsPerCase * 1000) / 1000,
        unit: 'core-s',
      },
    ]),
    {
      name: `fuzz: time for 1,000 cases at the fastest rate (${best.labs} labs)`,
      value: Math.round((1000 / best.perMin) * 60),
      unit: 's',
      goal: '<= 60 s',
    },
    {
      name: 'fuzz: load average (1 min) before / after',
      value: round(load0),
      unit: `/ ${round(load1)} on ${cpus().length} cores`,
    },
  ];
}
