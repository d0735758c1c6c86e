// `npm run bench`: prints the figures the issues set goals for. Goals are printed, never asserted.
import { benchModel, type Figure } from './model.ts';
import { benchLab } from './lab.ts';
import { benchFuzz } from './fuzz.ts';
import { benchDocker } from './docker.ts';
import { benchCli } from './cli.ts';

const sections: [string, () => Figure[] | Promise<Figure[]>][] = [
  ['cli', () => benchCli()],
  ['model', () => benchModel(Number(process.env.BENCH_SECONDS ?? 2))],
  ['lab', () => benchLab()],
  ['fuzz', () => benchFuzz()],
  ['docker', () => benchDocker()],
];

const only = process.argv.slice(2);
for (const [name, run] of sections) {
  if (only.length && !only.includes(name)) continue;
  const figures = await run();
  console.log(`\n## ${name}`);
  for (const f of figures)
    console.log(
      `${f.name.padEnd(72)} ${String(f.value.toLocaleString('en')).padStart(12)} ${f.unit}${f.goal ? `   (goal ${f.goal})` : ''}`,
    );
}
