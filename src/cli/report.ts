// Reports of case runs: a truth table for people, JSON and JUnit for machines.
import pc from 'picocolors';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CaseReport, Mark } from '../conform/run-case.ts';
import { renderTrace } from '../conform/render.ts';

const cell = (m: Mark, backendUsed: boolean) =>
  !backendUsed ? pc.dim('·') : m === 'pass' ? pc.green('✓') : m === 'fail' ? pc.red('✗') : pc.yellow('–');

export function truthTable(
  reports: readonly CaseReport[],
  used: { model: boolean; kernel: boolean; agree: boolean },
): string {
  const w = Math.min(70, Math.max(20, ...reports.map((r) => r.name.length)));
  const lines = [`${'case'.padEnd(w)}  model  kernel  agree  oracle`];
  for (const r of reports) {
    const name = r.name.length > w ? `${r.name.slice(0, w - 1)}…` : r.name.padEnd(w);
    lines.push(
      `${name}    ${cell(r.model, used.model)}      ${cell(r.kernel, used.kernel)}     ` +
        ` ${r.indeterminate && r.agree === 'pass' ? pc.yellow('?') : cell(r.agree, used.agree)}    ` +
        `  ${cell(r.oracle, r.oracle !== 'skip')}` +
        (r.skipReason && used.kernel ? pc.dim(`   kernel skipped: ${r.skipReason}`) : '') +
        (r.indeterminate ? pc.yellow(`   ${r.indeterminate} step(s) indeterminate`) : ''),
    );
  }
  return lines.join('\n');
}

/** Why each failed case failed, expected against observed. */
export function failureDetails(reports: readonly CaseReport[]): string {
  const out: string[] = [];
  for (const r of reports) {
    const bad = r.model === 'fail' || r.kernel === 'fail' || r.agree === 'fail' || r.oracle === 'fail';
    if (!bad) continue;
    out.push(pc.bold(pc.red(`✗ ${r.name}`)) + (r.file ? pc.dim(`  (${r.file})`) : ''));
    if (r.error) out.push(`    error: ${r.error}`);
    let traced = false;
    for (const s of r.steps) {
      for (const m of s.modelMisses) out.push(`    ${s.label}: ${pc.yellow('model')} ${m}`);
      for (const m of s.kernelMisses) out.push(`    ${s.label}: ${pc.yellow('kernel')} ${m}`);
      for (const m of s.oracleMisses) out.push(`    ${s.label}: ${pc.yellow('oracle')} ${m}`);
      for (const d of s.diffs)
        out.push(
          `    ${s.label}: ${d.field}  ${pc.red(`- model  ${JSON.stringify(d.model)}`)}\n` +
            `${' '.repeat(s.label.length + 6 + d.field.length)}${pc.green(`+ kernel ${JSON.stringify(d.kernel)}`)}`,
        );
      if (!traced && (s.diffs.length || s.modelMisses.length) && s.trace) {
        // the model's path for the first failing probe, to see where it parts from the kernel
        traced = true;
        out.push(
          pc.dim(`    the model's path for "${s.label}":`),
          ...renderTrace(s.trace)
            .split('\n')
            .map((l) => `      ${l}`),
        );
      }
    }
  }
  return out.join('\n');
}

export function summary(reports: readonly CaseReport[]): {
  passed: number;
  failed: number;
  skipped: number;
  /** steps whose model result hinged on rules the model cannot evaluate (agreements, not exact ones) */
  indeterminate: number;
  line: string;
} {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const indeterminate = reports.reduce((n, r) => n + r.indeterminate, 0);
  for (const r of reports) {
    const marks = [r.model, r.kernel, r.agree, r.oracle];
    if (marks.includes('fail') || r.error) failed++;
    else if (marks.includes('pass') && !r.skipReason) passed++;
    else if (marks.includes('pass')) {
      passed++;
      skipped++;
    } else skipped++;
  }
  return {
    passed,
    failed,
    skipped,
    indeterminate,
    line:
      `${reports.length} cases: ${passed} passed, ${failed} failed` +
      (skipped ? `, ${skipped} with a backend skipped` : '') +
      (indeterminate ? `; ${indeterminate} steps indeterminate (spec/semantics.md §10)` : ''),
  };
}

export function writeOut(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export function writeJson(path: string, reports: readonly CaseReport[]): void {
  writeOut(
    path,
    JSON.stringify(
      reports.map((r) => ({ ...r, steps: r.steps.map(({ trace: _t, ...s }) => s) })),
      null,
      2,
    ),
  );
}

export const xml = (s: string) =>
  s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

export function writeJunit(path: string, reports: readonly CaseReport[]): void {
  const cases: string[] = [];
  for (const r of reports) {
    for (const [backend, mark] of [
      ['model', r.model],
      ['kernel', r.kernel],
      ['agree', r.agree],
      ['oracle', r.oracle],
    ] as const) {
      const name = xml(`${r.name} [${backend}]`);
      const classname = xml(r.tags[0] ?? 'nfconform');
      if (mark === 'fail') {
        const why = r.steps.flatMap((s) =>
          [
            ...(backend === 'model'
              ? s.modelMisses
              : backend === 'kernel'
                ? s.kernelMisses
                : backend === 'oracle'
                  ? s.oracleMisses
                  : s.diffs.map(
                      (d) => `${d.field}: model ${JSON.stringify(d.model)} kernel ${JSON.stringify(d.kernel)}`,
                    )),
          ].map((m) => `${s.label}: ${m}`),
        );
        cases.push(
          `  <testcase classname="${classname}" name="${name}"` +
            ` time="${(r.ms / 1000).toFixed(3)}"><failure` +
            ` message="${xml(why[0] ?? r.error ?? 'failed')}"` +
            `>${xml([r.error ?? '', ...why].join('\n'))}</failure></testcase>`,
        );
      } else if (mark === 'skip') {
        cases.push(
          `  <testcase classname="${classname}" name="${name}"><skipped` +
            ` message="${xml(r.skipReason ?? 'backend not selected')}"/></testcase>`,
        );
      } else if (r.indeterminate && (backend === 'agree' || backend === 'model')) {
        // a pass that hinged on rules the model cannot evaluate: said so, never a silent pass
        const open = r.steps.flatMap((s) => s.indeterminate.map((t) => `${s.label}: indeterminate: ${t}`));
        cases.push(
          `  <testcase classname="${classname}" name="${name}"` +
            ` time="${(r.ms / 1000).toFixed(3)}"><properties><property name="indeterminate"` +
            ` value="${r.indeterminate}"/></properties><system-out>${xml(open.join('\n'))}</system-out>` +
            `</testcase>`,
        );
      } else cases.push(`  <testcase classname="${classname}" name="${name}" time="${(r.ms / 1000).toFixed(3)}"/>`);
    }
  }
  const failures = cases.filter((c) => c.includes('<failure')).length;
  const skipped = cases.filter((c) => c.includes('<skipped')).length;
  writeOut(
    path,
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="nfconform"` +
      ` tests="${cases.length}" failures="${failures}"` +
      ` skipped="${skipped}">\n${cases.join('\n')}\n</testsuite>\n`,
  );
}
