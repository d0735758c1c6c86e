// A long kernel campaign on fixed seeds (issue 14 §4 "Scale"), run as one `nfconform fuzz` per seed so that it
// can stop and go on: a seed whose report is in DIR is not run again (delete DIR/SEED.json to run it again,
// after a fix). Prints each seed as it ends, then the whole campaign: cases, probes, divergences, and the
// coverage table of all seeds merged (the README's table). Exit 0 only when every seed ran all its cases and
// none diverged; 1 when one diverged or stopped short; 2 on a bad command line.
//
//   npm run campaign -- --seeds 20261301-20261310 --runs 1000 [--labs 4] [--iptables nft|legacy] [--out DIR]
//   npm run campaign -- --seeds 20261301-20261310 --runs 1000 --report-only   (merge what DIR holds, run nothing)
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mergeCoverage, renderCoverage, type CoverageReport } from '../src/conform/coverage.ts';

interface SeedReport {
  seed: number;
  cases: number;
  probes: number;
  elapsedMs: number;
  divergences: number;
  replay: string | null;
  known: { id: string }[];
  coverage: CoverageReport;
}

function fail(msg: string): never {
  process.stderr.write(`campaign: ${msg}\n`);
  process.exit(2);
}

function seedsOf(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) fail(`--seeds: "${part}" is not a seed or a range A-B`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 10_000) fail(`--seeds: "${part}" is not an increasing range of at most 10,000 seeds`);
    for (let s = a; s <= b; s++) out.push(s);
  }
  return out;
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        seeds: { type: 'string' },
        runs: { type: 'string', default: '1000' },
        labs: { type: 'string', default: '4' },
        iptables: { type: 'string' },
        out: { type: 'string', default: 'campaign-out' },
        'report-only': { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
if (!values.seeds) fail('--seeds is required (e.g. --seeds 20261301-20261310)');
const seeds = seedsOf(values.seeds);
const runs = Number(values.runs);
const labs = Number(values.labs);
if (!Number.isInteger(runs) || runs < 1) fail('--runs must be a positive integer');
if (!Number.isInteger(labs) || labs < 1 || labs > 32) fail('--labs must be an integer from 1 to 32');
if (values.iptables !== undefined && values.iptables !== 'nft' && values.iptables !== 'legacy')
  fail('--iptables must be nft or legacy');
mkdirSync(values.out, { recursive: true });

const reportPath = (seed: number) => join(values.out, `${seed}.json`);
const read = (seed: number): SeedReport | undefined =>
  existsSync(reportPath(seed)) ? (JSON.parse(readFileSync(reportPath(seed), 'utf8')) as SeedReport) : undefined;

const t0 = Date.now();
for (const [i, seed] of seeds.entries()) {
  if (values['report-only'] || read(seed)) continue;
  process.stderr.write(`\n== seed ${seed} (${i + 1} of ${seeds.length}), ${runs} cases on ${labs} labs\n`);
  const argv = ['bin/nfconform.js', 'fuzz', '--runs', String(runs), '--seed', String(seed), '--labs', String(labs)];
  if (values.iptables) argv.push('--iptables', values.iptables);
  argv.push('--out', join(values.out, String(seed)), '--json', reportPath(seed));
  // fuzz exits 1 on a divergence: that seed's report says so; anything else without a report is an error
  const r = await execa('node', argv, { reject: false, stdout: 'inherit', stderr: 'inherit' });
  if (!read(seed)) {
    process.stderr.write(`campaign: seed ${seed} wrote no report (exit ${r.exitCode}); stopping\n`);
    process.exit(3);
  }
}

const parts = seeds.map((s) => ({ seed: s, r: read(s) }));
const done = parts.filter((p): p is { seed: number; r: SeedReport } => p.r !== undefined);
const cases = done.reduce((n, p) => n + p.r.cases, 0);
const probes = done.reduce((n, p) => n + p.r.probes, 0);
const wallMs = done.reduce((n, p) => n + p.r.elapsedMs, 0);
const diverged = done.filter((p) => p.r.divergences > 0);
const short = done.filter((p) => p.r.divergences === 0 && p.r.cases < runs);
const missing = parts.filter((p) => p.r === undefined).map((p) => p.seed);
const merged = mergeCoverage(done.map((p) => p.r.coverage));
const lines = [
  `campaign of ${seeds.length} seeds x ${runs} cases: ${done.length} seeds run, ${cases} cases, ${probes} probes,` +
    ` ${(wallMs / 60000).toFixed(1)} min of fuzzing (${(cases / Math.max(wallMs / 60000, 1e-9)).toFixed(0)}` +
    ` cases/min)`,
  `divergences: ${diverged.length}${diverged.map((p) => `\n  seed ${p.seed}: ${p.r.replay ?? ''}`).join('')}`,
  ...(short.length ? [`stopped short: ${short.map((p) => `${p.seed} (${p.r.cases})`).join(', ')}`] : []),
  ...(missing.length ? [`not run yet: ${missing.join(', ')}`] : []),
  `known divergences matched: ${done.reduce((n, p) => n + p.r.known.length, 0)}`,
  '',
  renderCoverage(merged, { markdown: true }),
];
writeFileSync(join(values.out, 'coverage.md'), lines.join('\n') + '\n');
writeFileSync(
  join(values.out, 'campaign.json'),
  JSON.stringify(
    { seeds, runs, cases, probes, wallMs, diverged: diverged.map((p) => p.seed), missing, merged },
    null,
    2,
  ) + '\n',
);
process.stdout.write(lines.slice(0, -1).join('\n') + '\n' + renderCoverage(merged) + '\n');
process.stdout.write(`wrote ${join(values.out, 'coverage.md')} (${((Date.now() - t0) / 60000).toFixed(1)} min)\n`);
process.exit(diverged.length || short.length || missing.length || cases === 0 ? 1 : 0);
