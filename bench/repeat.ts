// Issue 17: one DNAT probe repeated n times must cost time linear in n and flat memory. Each size runs in its
// own process (its peak RSS is its own), model and kernel side by side; per-probe time must not grow with n.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import type { Figure } from './model.ts';

/** Before this change (commit 9737d0f, the whole conntrack table in every observation): `nfconform check
 *  --json` of the same case on this machine, 2026-12-01, load average 1.5 (the JSON report alone was 340 MB
 *  at 1000; at 2000 it overflowed a string: exit 3). With this file's runner at load average 28: 1000 took
 *  117 s and 288 MB, 2000 did not end within 900 s. */
export const REPEAT_BEFORE = { 1000: { s: 28, rssMb: 1590 }, 2000: { s: 163, rssMb: 1574 } } as const;

const ONE = fileURLToPath(new URL('./repeat-one.ts', import.meta.url));

export async function benchRepeat(): Promise<Figure[]> {
  const sides = process.getuid?.() === 0 ? 'both' : 'model';
  const sizes = (process.env.BENCH_REPEATS ?? '1000,2000,4000,8000').split(',').map(Number);
  const figures: Figure[] = [];
  for (const n of sizes) {
    const r = await execa(process.execPath, ['--import', 'tsx', ONE, String(n), sides], { reject: false });
    if (r.exitCode !== 0) throw new Error(`repeat ${n}: ${r.stderr || r.stdout}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms: number; maxRssMb: number; marks: string[] };
    if (out.marks.some((m) => m === 'fail')) throw new Error(`repeat ${n}: the case failed (${out.marks.join(' ')})`);
    figures.push(
      { name: `repeat: ${n} DNAT probes (${sides}), time`, value: Math.round(out.ms / 100) / 10, unit: 's' },
      {
        name: `repeat: ${n} DNAT probes, time per probe`,
        value: Math.round((out.ms / n) * 10) / 10,
        unit: 'ms',
        goal: 'flat in n',
      },
      { name: `repeat: ${n} DNAT probes, peak RSS`, value: out.maxRssMb, unit: 'MB', goal: 'flat in n' },
    );
  }
  for (const [n, b] of Object.entries(REPEAT_BEFORE))
    figures.push({
      name: `repeat: ${n} DNAT probes before (9737d0f, check --json, load 1.5, measured once)`,
      value: b.s,
      unit: `s, ${b.rssMb} MB`,
    });
  return figures;
}
