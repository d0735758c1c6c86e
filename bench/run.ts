// `npm run bench`: prints the figures the issues set goals for. Goals are printed, never asserted; a
// section whose run is not valid (a fuzz campaign that met a divergence) fails the bench with exit 1.
import { benchModel, type Figure } from './model.ts';
import { benchLab } from './lab.ts';
import { benchFuzz, BenchFailure } from './fuzz.ts';
import { benchDocker } from './docker.ts';
import { benchCli } from './cli.ts';
import { benchRepeat } from './repeat.ts';

const sections: [string, () => Figure[] | Promise<Figure[]>][] = [
  ['cli', () => benchCli()],
  ['model', () => benchModel(Number(process.env.BENCH_SECONDS ?? 2))],
  ['lab', () => benchLab()],
  ['repeat', () => benchRepeat()],
  ['fuzz', () => benchFuzz()],
  ['docker', () => benchDocker()],
];

const only = process.argv.slice(2);
const failures: string[] = [];
for (const [name, run] of sections) {
  if (only.length && !only.includes(name)) continue;
  let figures: Figure[];
  try {
    figures = await run();
  } catch (e) {
    if (!(e instanceof BenchFailure)) throw e;
    console.log(`\n## ${name}\nFAILED: ${e.message}`);
    failures.push(name);
    continue;
  }
  console.log(`\n## ${name}`);
  for (const f of figures)
    console.log(
      `${f.name.padEnd(72)} ${String(f.value.toLocaleString('en')).padStart(12)} ${f.unit}` +
        (f.goal ? `   (goal ${f.goal})` : ''),
    );
}
if (failures.length) {
  console.error(`\nBENCH FAILED: ${failures.join(', ')} (see above); its figures are not valid`);
  process.exitCode = 1;
}
