// `nfconform check FILE...` and `nfconform run [SUITE...]`: case files on the
// model, the kernel or both; a truth table, JSON and JUnit; exit 0/1/2.
import { join, relative } from 'node:path';
import pc from 'picocolors';
import { readCase, findCaseFiles, SUITES_DIR, type CaseFile } from '../conform/case-file.ts';
import { runCases, type CaseReport } from '../conform/run-case.ts';
import type { Sides } from '../conform/sides.ts';
import { labSkipReason } from '../lab/prereq.ts';
import { DockerLabError } from '../lab/docker-site.ts';
import { implementationOf, type Implementation } from '../conform/impl.ts';
import { crossDiffs } from '../conform/cross-compare.ts';
import {
  readFlags,
  cmdline,
  sidesOf,
  iptablesOrBothOf,
  modeChoiceOf,
  type SidesAndRuntime,
  type ModeChoice,
} from './args.ts';
import { truthTable, failureDetails, summary, writeJson, writeJunit, writeOut } from './report.ts';
import { runPage } from '../conform/html.ts';
import { caseWarnings } from '../conform/case-warnings.ts';
import { CHECK_USAGE } from './usage.ts';

/** `--iptables both`: every case on iptables-nft, then on iptables-legacy; the two kernels are also
 *  compared with each other, step by step (what is not left to chance), and any difference fails. */
async function executeAll(
  cases: CaseFile[],
  how: SidesAndRuntime,
  write: (s: string) => void,
  json: boolean,
  iptables: ReturnType<typeof iptablesOrBothOf>,
  impl: Implementation,
  mode: ModeChoice,
): Promise<{ reports: CaseReport[]; crossFailed: boolean }> {
  if (iptables !== 'both')
    return { reports: await execute(cases, how, write, json, iptables, impl, mode), crossFailed: false };
  const nft = await execute(cases, how, write, json, 'nft', impl, mode);
  const legacy = await execute(cases, how, write, json, 'legacy', impl, mode);
  const tag = (rs: CaseReport[], b: string) => rs.map((r) => ({ ...r, name: `${r.name} [${b}]` }));
  const reports = [...tag(nft, 'nft'), ...tag(legacy, 'legacy')];
  if (how.sides === 'model') return { reports, crossFailed: false };
  const { compared, diffs } = crossDiffs(nft, legacy);
  if (!json) {
    write(
      diffs.length
        ? pc.red(`iptables-nft against iptables-legacy: ${diffs.length} of ${compared} steps differ`)
        : pc.green(`iptables-nft against iptables-legacy: ${compared} steps compared, the same on both`),
    );
    for (const d of diffs.slice(0, 20))
      write(`  ${d.step}\n    nft:    ${JSON.stringify(d.a)}\n    legacy: ${JSON.stringify(d.b)}`);
  }
  return { reports, crossFailed: diffs.length > 0 };
}

async function execute(
  cases: CaseFile[],
  { sides, runtime }: SidesAndRuntime,
  write: (s: string) => void,
  json: boolean,
  iptables: 'nft' | 'legacy' | undefined,
  impl: Implementation,
  { mode, kubeProxyVersion }: ModeChoice,
): Promise<CaseReport[]> {
  if ((impl.name !== 'builtin' || mode !== 'iptables') && !json)
    write(
      pc.cyan(
        `Services compiled by: ${impl.name} in` +
          ` ${mode} mode${kubeProxyVersion ? ` (kube-proxy ${kubeProxyVersion})` : ''}` +
          `${iptables && mode === 'iptables' ? ` (loaded with iptables-${iptables})` : ''}`,
      ),
    );
  // rules that name what the topology lacks: said before the results, which they would otherwise mislead
  if (!json) for (const c of cases) for (const w of caseWarnings(c)) write(pc.yellow(`warning: ${c.name}: ${w}`));
  const kernelSkip = sides === 'model' ? undefined : await labSkipReason(runtime);
  // asked for by name, the Docker lab must run: its absence is an error that says what to do
  if (kernelSkip && runtime === 'docker') throw new DockerLabError(kernelSkip);
  if (kernelSkip && !json) write(pc.yellow(`kernel runs skipped (${runtime}): ${kernelSkip}`));
  const tty = process.stderr.isTTY;
  const t0 = performance.now();
  return runCases(cases, {
    sides,
    lab: { runtime },
    impl,
    mode,
    ...(kubeProxyVersion ? { kubeProxyVersion } : {}),
    ...(iptables ? { iptables } : {}),
    ...(kernelSkip ? { kernelSkip } : {}),
    onStart: (c, i) => {
      const msg = `[${i + 1}/${cases.length}] ${c.name}`;
      if (tty) process.stderr.write(`\r\x1b[K${pc.dim(msg)}`);
    },
    onCase: (r, i) => {
      if (!tty && !json) {
        const bad = [r.model, r.kernel, r.agree].includes('fail');
        process.stderr.write(
          `[${i + 1}/${cases.length}] ${bad ? 'FAIL' : 'ok  '} ${r.name} (${Math.round(r.ms)} ms,` +
            ` ${((performance.now() - t0) / 1000).toFixed(1)} s so far)\n`,
        );
      }
      if (tty && i === cases.length - 1) process.stderr.write('\r\x1b[K');
    },
  });
}

function finish(
  reports: CaseReport[],
  sides: Sides,
  write: (s: string) => void,
  opts: { json: boolean; jsonFile?: string; junit?: string; html?: string; title: string },
): number {
  const used = { model: sides !== 'kernel', kernel: sides !== 'model', agree: sides === 'both' };
  if (opts.jsonFile) writeJson(opts.jsonFile, reports);
  if (opts.html) writeOut(join(opts.html, 'index.html'), runPage(reports, used, opts.title));
  if (opts.junit) writeJunit(opts.junit, reports);
  if (opts.json) {
    write(
      JSON.stringify(
        reports.map((r) => ({ ...r, steps: r.steps.map(({ trace: _t, ...s }) => s) })),
        null,
        2,
      ),
    );
  } else {
    write(truthTable(reports, used));
    const details = failureDetails(reports);
    if (details) write(`\n${details}`);
  }
  const s = summary(reports);
  if (!opts.json) write(`\n${s.failed ? pc.red(s.line) : pc.green(s.line)}`);
  return s.failed ? 1 : 0;
}

export async function checkCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values, positionals } = readFlags(
    argv,
    {
      sides: { type: 'string' },
      runtime: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
      junit: { type: 'string' },
      html: { type: 'string' },
      iptables: { type: 'string' },
      impl: { type: 'string' },
      mode: { type: 'string' },
      'kube-proxy-version': { type: 'string' },
      'allow-path': { type: 'string', multiple: true, default: [] },
    },
    true,
  );
  if (!positionals.length) throw cmdline(CHECK_USAGE);
  const cases = positionals.map((f) => readCase(f, { allowPaths: values['allow-path'] }));
  const how = sidesOf(values, 'both');
  const { reports, crossFailed } = await executeAll(
    cases,
    how,
    write,
    values.json,
    iptablesOrBothOf(values.iptables),
    implementationOf(values.impl),
    modeChoiceOf(values),
  );
  return Math.max(
    finish(reports, how.sides, write, {
      title: 'nfconform check',
      json: values.json,
      ...(values.junit ? { junit: values.junit } : {}),
      ...(values.html ? { html: values.html } : {}),
    }),
    crossFailed ? 1 : 0,
  );
}

export async function runCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values, positionals } = readFlags(
    argv,
    {
      sides: { type: 'string' },
      runtime: { type: 'string' },
      backend: { type: 'string' },
      tags: { type: 'string' },
      junit: { type: 'string' },
      json: { type: 'string' },
      html: { type: 'string' },
      list: { type: 'boolean', default: false },
      iptables: { type: 'string' },
      impl: { type: 'string' },
      mode: { type: 'string' },
      'kube-proxy-version': { type: 'string' },
      'allow-path': { type: 'string', multiple: true, default: [] },
    },
    true,
  );
  let cases = findCaseFiles(SUITES_DIR).map((f) => readCase(f, { allowPaths: values['allow-path'] }));
  if (positionals.length)
    cases = cases.filter((c) =>
      positionals.some((p) => c.name.includes(p) || relative(SUITES_DIR, c.file ?? '').startsWith(p)),
    );
  if (values.tags) {
    const want = values.tags.split(',');
    cases = cases.filter((c) => want.every((t) => (c.tags ?? []).includes(t)));
  }
  if (!cases.length) throw cmdline('no suite matches');
  if (values.list) {
    for (const c of cases) write(`${c.name}  ${pc.dim((c.tags ?? []).join(','))}`);
    return 0;
  }
  const how = sidesOf(values, 'both');
  const { reports, crossFailed } = await executeAll(
    cases,
    how,
    write,
    false,
    iptablesOrBothOf(values.iptables),
    implementationOf(values.impl),
    modeChoiceOf(values),
  );
  return Math.max(
    finish(reports, how.sides, write, {
      title: 'nfconform run',
      json: false,
      ...(values.json ? { jsonFile: values.json } : {}),
      ...(values.junit ? { junit: values.junit } : {}),
      ...(values.html ? { html: values.html } : {}),
    }),
    crossFailed ? 1 : 0,
  );
}
