// `nfconform fuzz`: a campaign of random cases on the model and the kernel.
import pc from 'picocolors';
import { fuzz, type FuzzProgress } from '../conform/fuzz.ts';
import { LabPool } from '../conform/run-case.ts';
import { writeArtifacts, replayCommand } from '../conform/artifacts.ts';
import { renderCoverage } from '../conform/coverage.ts';
import { writeFile } from 'node:fs/promises';
import { labSkipReason, kernelLogQuiet } from '../lab/prereq.ts';
import { PhaseTimes, renderProfile } from '../lab/profile.ts';
import { readFlags, cmdline, runtimeOf, iptablesOf, parseDuration, intOf, modeChoiceOf } from './args.ts';

/** Dropped probes dominate a campaign's time; 150 ms is still >100 times a lab round trip. */
export const FUZZ_PROBE_TIMEOUT = '150ms';

function bar(p: FuzzProgress, total: number | undefined): string {
  const rate = p.elapsedMs > 0 ? (p.probes / (p.elapsedMs / 1000)).toFixed(1) : '0';
  const frac = total ? Math.min(1, p.cases / total) : undefined;
  const width = 24;
  const fill = frac === undefined ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] `;
  const div = p.divergences ? pc.red(`divergences ${p.divergences}`) : pc.green('divergences 0');
  return (
    `${fill}cases ${p.cases}  probes ${p.probes} (${rate}/s)  ${div}  known ${p.known} ` +
    ` ${(p.elapsedMs / 1000).toFixed(0)} s${p.shrinking ? pc.yellow('  shrinking…') : ''}`
  );
}

export async function fuzzCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values } = readFlags(argv, {
    runs: { type: 'string' },
    time: { type: 'string' },
    seed: { type: 'string' },
    iptables: { type: 'string' },
    out: { type: 'string', default: 'fuzz-out' },
    replay: { type: 'string' },
    'shrink-time': { type: 'string', default: '120s' },
    timeout: { type: 'string', default: FUZZ_PROBE_TIMEOUT },
    services: { type: 'boolean', default: false },
    mode: { type: 'string' },
    'kube-proxy-version': { type: 'string' },
    labs: { type: 'string', default: '1' },
    runtime: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'string' },
    coverage: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  });
  const runtime = runtimeOf(values.runtime, values.backend, 'the kernel lab');
  const iptables = iptablesOf(values.iptables);
  const skip = await labSkipReason(runtime);
  if (skip) throw cmdline(`fuzz needs the kernel lab (${runtime}): ${skip}`, 'invalid');
  const runs = values.runs === undefined ? undefined : intOf('--runs', values.runs, 1);
  if (values.mode !== undefined && !values.services)
    throw cmdline('--mode is the proxy mode of the drawn Services: it goes with --services');
  const { mode, kubeProxyVersion } = modeChoiceOf(values);
  // the flags that shape the draw and its judgement: a replay without them would draw another case
  const replayFlags = [
    ...(values.services ? ['--services'] : []),
    ...(mode === 'nftables' ? ['--mode nftables'] : []),
    ...(kubeProxyVersion ? [`--kube-proxy-version ${kubeProxyVersion}`] : []),
    ...(iptables ? [`--iptables ${iptables}`] : []),
  ];
  let replay: { seed: number; path: string } | undefined;
  if (values.replay) {
    const m = /^(-?\d+):([\d:]*)$/.exec(values.replay);
    if (!m) throw cmdline('--replay expects SEED:PATH as printed by a failing run');
    replay = { seed: Number(m[1]), path: m[2]! };
  }
  // where the time goes: always in --json, printed with --profile
  const profile = new PhaseTimes();
  const labs = intOf('--labs', values.labs, 1);
  const pool = new LabPool({ timeoutMs: parseDuration(values.timeout) * 1000, runtime, profile }, { spare: true });
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  try {
    const result = await fuzz({
      oracle: { kind: 'kernel', pool },
      kind: values.services ? 'services' : 'rulesets',
      ...(mode === 'nftables' ? { mode } : {}),
      ...(kubeProxyVersion ? { kubeProxyVersion } : {}),
      ...(runs !== undefined ? { runs } : values.time ? {} : { runs: 100 }),
      ...(values.time ? { timeSeconds: parseDuration(values.time) } : {}),
      ...(values.seed ? { seed: intOf('--seed', values.seed, -(2 ** 31)) } : {}),
      ...(iptables ? { backend: iptables } : {}),
      ...(replay ? { replay } : {}),
      shrinkSeconds: parseDuration(values['shrink-time']),
      labs,
      quietLog: kernelLogQuiet(),
      onProgress: (p) => {
        const now = performance.now();
        if (tty) process.stderr.write(`\r\x1b[K${bar(p, runs)}`);
        else if (now - lastLine > 5000) {
          process.stderr.write(`${bar(p, runs)}\n`);
          lastLine = now;
        }
      },
    });
    if (tty) process.stderr.write('\n');
    // what the campaign exercised, and what the model implements that it never did (--coverage: every count)
    write(renderCoverage(result.coverage, { items: values.coverage }));
    if (values.json) {
      const d = result.divergence;
      const report = {
        seed: result.seed,
        replay: result.divergence ? replayCommand(result.seed, result.divergence.path, replayFlags) : null,
        cases: result.cases,
        probes: result.probes,
        elapsedMs: Math.round(result.elapsedMs),
        divergences: d ? 1 : 0,
        divergence: d ? { path: d.path, diffs: d.diffs, case: d.case } : null,
        known: result.known.map((k) => ({ id: k.entry.id, step: k.diff.step, field: k.diff.diff.field })),
        coverage: result.coverage,
        profile: {
          wallMs: Math.round(result.elapsedMs),
          labs,
          phases: result.profile ?? [],
          builds: profile.buildCauses(),
        },
      };
      await writeFile(values.json, JSON.stringify(report, null, 2) + '\n');
      write(`wrote ${values.json}`);
    }
    if (values.profile) write(renderProfile(result.profile ?? [], result.elapsedMs, labs, profile.buildCauses()));
    write(
      `seed ${result.seed}: ${result.cases} cases, ${result.probes} probes in` +
        ` ${(result.elapsedMs / 1000).toFixed(1)} s` +
        ` (${(result.cases / (result.elapsedMs / 60000)).toFixed(0)} cases/min)`,
    );
    for (const k of result.known)
      write(pc.yellow(`known divergence ${k.entry.id}: ${k.diff.step}: ${k.diff.diff.field} (${k.entry.reason})`));
    if (!result.divergence) {
      write(pc.green('model and kernel agree on every case'));
      return 0;
    }
    const d = result.divergence;
    write(pc.red(`divergence found and shrunk (${d.shrinks} shrink steps):`));
    for (const x of d.diffs)
      write(
        `  ${x.step}: ${x.diff.field}  model ${JSON.stringify(x.diff.model)}  kernel ${JSON.stringify(x.diff.kernel)}`,
      );
    const dir = await writeArtifacts(
      values.out,
      {
        c: d.case,
        diffs: d.diffs,
        seed: d.seed,
        path: d.path,
        replayFlags,
        ...(mode === 'nftables' ? { mode } : {}),
        ...(kubeProxyVersion ? { kubeProxyVersion } : {}),
      },
      pool,
    );
    write(`replay: ${replayCommand(d.seed, d.path, replayFlags)}`);
    write(`wrote ${dir}/case.json, repro.sh, explain.md`);
    return 1;
  } finally {
    await pool.close();
  }
}
