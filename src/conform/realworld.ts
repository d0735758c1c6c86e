// The real-world corpus (suites/realworld/, issue 12 §4): real rulesets with their sources, a host
// topology and probes each. For every file: does lint refuse it, how many of its rules the model
// evaluates, does every probe trace end to end on the model, and do model and kernel agree on each probe.
// `npm run realworld` prints the table (scripts/realworld.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRuleset, InputError, loadJson, lintNft, parseNftCommands, type IptablesFlavor } from '../model/index.ts';
import { readCase, type CaseFile } from './case-file.ts';
import { runCases, LabPool, type CaseReport } from './run-case.ts';
import type { Sides } from './sides.ts';
import { caseWarnings } from './case-warnings.ts';

export const REALWORLD_DIR = fileURLToPath(new URL('../../suites/realworld/', import.meta.url));

/** Where a file came from: a public repository (and what was taken of it), or a tool run here. */
export type RealworldSource =
  | { repository: string; path: string; commit: string; licence: string; extraction: string }
  | { tool: string; package: string; licence: string; generated: string };

/** The rule language of a file: iptables-save input (loaded with iptables-restore in `backend`), or native
 *  nftables (`nft -f` input, loaded as it is). */
export type RealworldEntry = {
  id: string;
  origin: string;
  /** paths relative to suites/realworld/ */
  rules: string;
  case: string;
  topology: string;
  source: RealworldSource;
} & ({ lang: 'iptables'; backend: IptablesFlavor } | { lang: 'nft' });

/** suites/realworld/sources.json, checked. */
export function readCorpus(dir: string = REALWORLD_DIR): RealworldEntry[] {
  const file = join(dir, 'sources.json');
  return loadJson(readFileSync(file, 'utf8'), file, (raw, j) =>
    j.arr(raw, []).map((e, i): RealworldEntry => {
      const o = j.obj(e, [i], ['id', 'origin', 'rules', 'case', 'topology', 'lang', 'backend', 'source']);
      const lang = j.oneOf(o.lang, [i, 'lang'], ['iptables', 'nft'] as const);
      // an nft file is loaded as it is; an iptables one names the iptables it is restored with
      if (lang === 'nft' && o.backend !== undefined) j.fail([i, 'backend'], 'an nft ruleset has no iptables backend');
      const s = j.obj(o.source, [i, 'source']);
      const str = (v: unknown, k: string) => j.str(v, [i, 'source', k], { max: 2000 });
      const source: RealworldSource =
        'repository' in s
          ? {
              repository: str(s.repository, 'repository'),
              path: str(s.path, 'path'),
              commit: j.str(s.commit, [i, 'source', 'commit'], {
                grammar: (c) => (/^[0-9a-f]{40}$/.test(c) ? undefined : 'a 40-digit commit id'),
              }),
              licence: str(s.licence, 'licence'),
              extraction: str(s.extraction, 'extraction'),
            }
          : {
              tool: str(s.tool, 'tool'),
              package: str(s.package, 'package'),
              licence: str(s.licence, 'licence'),
              generated: str(s.generated, 'generated'),
            };
      const common = {
        id: j.str(o.id, [i, 'id'], { max: 100 }),
        origin: j.str(o.origin, [i, 'origin'], { max: 100 }),
        rules: j.str(o.rules, [i, 'rules'], { max: 500 }),
        case: j.str(o.case, [i, 'case'], { max: 500 }),
        topology: j.str(o.topology, [i, 'topology'], { max: 500 }),
        source,
      };
      return lang === 'nft'
        ? { ...common, lang }
        : { ...common, lang, backend: j.oneOf(o.backend, [i, 'backend'], ['nft', 'legacy'] as const) };
    }),
  );
}

export interface LintSummary {
  /** rule lines in the file (-A/-I lines, or iptables commands that add a rule) */
  rules: number;
  /** lines the model does not evaluate, with why (an unsupported match, target or option; in nft also a stateful
   *  object or a table left out) */
  unsupported: { line: number; feature: string }[];
  /** rules the model does not evaluate exactly (an iptables rule with an unsupported part; an nft rule with an
   *  opaque statement, or in a table left out) */
  unmodelled: number;
  /** real syntax errors: lint refuses the file */
  errors: string[];
}

const RULE_LINE = /^\s*(?:\[\d+:\d+\]\s*)?(?:-A|-I|--append|--insert)\s/;
const COMMAND_RULE = /(?:^|\s)(?:-A|-I|--append|--insert)\s/;

/** Counts the rule lines of a ruleset text (iptables-save form, or command lines with continuations). */
export function countRuleLines(text: string): number {
  const logical = text.replace(/\\\n/g, ' ').split('\n');
  const save = logical.some((l) => /^\*\s*\w/.test(l.trim()));
  return logical.filter((l) => !l.trim().startsWith('#') && (save ? RULE_LINE : COMMAND_RULE).test(l)).length;
}

/** What `lint` says of a file: its rule lines, what the model leaves out, and its syntax errors. */
export function lintSummary(
  text: string,
  file: string,
  lang: { lang: 'iptables'; backend: IptablesFlavor } | { lang: 'nft' },
): LintSummary {
  const problems: InputError[] = [];
  let rules: number;
  let exact: number | undefined;
  if (lang.lang === 'nft') {
    // read as the packet path reads it: what is outside the subset is read around (spec/nft.md §3a)
    const { ruleset, errors } = lintNft(text, { file, problems });
    problems.push(...errors);
    rules = countNftRules(text, file);
    const read = [...ruleset.tables.values()].flatMap((t) => [...t.chains.values()].flatMap((c) => c.rules));
    exact = read.filter((r) => !r.stmts.some((st) => st.k === 'opaque')).length;
  } else {
    parseRuleset(text, { file, backend: lang.backend, problems });
    rules = countRuleLines(text);
  }
  const unsupported = problems
    .filter((p) => p.kind === 'unsupported')
    .map((p) => ({ line: p.pos?.line ?? 0, feature: p.reason }));
  const byLine = [...new Map(unsupported.map((u) => [u.line, u])).values()];
  return {
    rules,
    unsupported: byLine,
    unmodelled: exact === undefined ? byLine.length : rules - exact,
    errors: problems.filter((p) => p.kind !== 'unsupported').map((p) => p.message),
  };
}

/** The rules of an nft file: every rule its commands add, read as lint reads it (the rules of an ip6 table the
 *  model leaves out are not counted: no IPv4 packet meets them). A file nft's parser refuses counts none. */
export function countNftRules(text: string, file: string): number {
  try {
    return parseNftCommands(text, file, []).filter((c) => c.op === 'add-rule' || c.op === 'insert-rule').length;
  } catch (e) {
    if (e instanceof InputError) return 0;
    throw e;
  }
}

export interface RealworldRow {
  id: string;
  origin: string;
  file: string;
  rules: number;
  /** rule lines the model evaluates exactly */
  modelled: number;
  unsupported: { line: number; feature: string }[];
  lintRefused: boolean;
  lintErrors: string[];
  /** every probe ran on the model to one exact outcome */
  traceable: boolean;
  /** why not, when it is not */
  blocker?: string;
  probes: number;
  /** probes run on the kernel whose observations the model matched (undefined: the kernel did not run) */
  agreeing?: number;
  /** probes whose outcome hinges on a rule the model cannot evaluate (outcome `indeterminate`) */
  indeterminate: number;
  /** expectations the kernel missed, expectations the model missed with an exact outcome, and every field
   *  where model and kernel differ (an indeterminate outcome whose possibilities include the kernel's agrees) */
  problems: string[];
  /** interfaces and addresses the ruleset names that the topology lacks */
  warnings: string[];
}

export interface MeasureOptions {
  sides: Sides;
  only?: readonly string[];
  onRow?: (row: RealworldRow, i: number, n: number) => void;
  kernelSkip?: string;
  /** a lab pool to reuse (else one of its own, closed at the end) */
  pool?: LabPool;
}

/** Lints, traces and (with the kernel) checks every file of the corpus. */
export async function measureCorpus(entries: readonly RealworldEntry[], opts: MeasureOptions): Promise<RealworldRow[]> {
  const pool = opts.pool ?? new LabPool();
  const rows: RealworldRow[] = [];
  const chosen = entries.filter((e) => !opts.only?.length || opts.only.includes(e.id));
  try {
    for (const [i, e] of chosen.entries()) {
      const row = await measureEntry(e, opts, pool);
      rows.push(row);
      opts.onRow?.(row, i, chosen.length);
    }
  } finally {
    if (!opts.pool) await pool.close();
  }
  return rows;
}

async function measureEntry(e: RealworldEntry, opts: MeasureOptions, pool: LabPool): Promise<RealworldRow> {
  const file = join(REALWORLD_DIR, e.rules);
  const lint = lintSummary(readFileSync(file, 'utf8'), e.rules, e);
  const row: RealworldRow = {
    id: e.id,
    origin: e.origin,
    file: e.rules,
    rules: lint.rules,
    modelled: lint.rules - lint.unmodelled,
    unsupported: lint.unsupported,
    lintRefused: lint.errors.length > 0,
    lintErrors: lint.errors,
    traceable: false,
    probes: 0,
    indeterminate: 0,
    problems: [],
    warnings: [],
  };
  let c: CaseFile;
  try {
    c = readCase(join(REALWORLD_DIR, e.case), {});
  } catch (err) {
    row.blocker = err instanceof InputError ? err.reason : String(err);
    return row;
  }
  row.probes = c.steps.filter((s) => 'from' in s).length;
  row.warnings = caseWarnings(c);
  let rep: CaseReport | undefined;
  try {
    [rep] = await runCases([c], {
      sides: opts.sides,
      pool,
      ...(opts.kernelSkip ? { kernelSkip: opts.kernelSkip } : {}),
    });
  } catch (err) {
    row.blocker = err instanceof InputError ? err.reason : String(err);
    return row;
  }
  if (!rep) return row;
  const modelRan = rep.model !== 'skip' && rep.steps.length > 0 && rep.steps.every((s) => s.model.length > 0);
  const open = (s: (typeof rep.steps)[number]) =>
    s.model.some((branches) => branches.some((b) => b.value.outcome === 'indeterminate'));
  row.indeterminate = rep.steps.filter((s) => s.probe && open(s)).length;
  const exact = row.indeterminate === 0;
  row.traceable = modelRan && exact && !rep.error;
  if (!row.traceable)
    row.blocker = rep.error ?? (exact ? 'the model did not run every probe' : 'a probe hinges on an unsupported rule');
  if (rep.kernel !== 'skip' && !rep.error)
    row.agreeing = rep.steps.filter((s) => s.probe && s.kernel.length > 0 && s.diffs.length === 0).length;
  for (const s of rep.steps) {
    // an indeterminate outcome misses an exact expectation by design: counted in `indeterminate`, not here
    if (!open(s)) for (const m of s.modelMisses) row.problems.push(`${s.label}: model ${m}`);
    for (const m of s.kernelMisses) row.problems.push(`${s.label}: kernel ${m}`);
    for (const d of s.diffs)
      row.problems.push(`${s.label}: ${d.field} model=${JSON.stringify(d.model)} kernel=${JSON.stringify(d.kernel)}`);
  }
  if (rep.error) row.problems.push(rep.error);
  return row;
}

const pct = (a: number, b: number) => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`);

/** The table `npm run realworld` prints, with a totals line against the issue's targets. */
export function renderTable(rows: readonly RealworldRow[]): string {
  const head = ['file', 'origin', 'rules', 'modelled', 'traceable', 'probes agreeing'];
  const body = rows.map((r) => [
    r.file.replace(/^rules\//, ''),
    r.origin,
    String(r.rules),
    pct(r.modelled, r.rules),
    r.lintRefused ? 'lint refuses' : r.traceable ? 'yes' : r.indeterminate ? `no: ${r.indeterminate} open` : 'no',
    r.agreeing === undefined ? `-/${r.probes}` : `${r.agreeing}/${r.probes}`,
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...body.map((b) => b[k]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, k) => c.padEnd(widths[k]!))
      .join('  ')
      .trimEnd();
  const t = totals(rows);
  return [
    line(head),
    ...body.map(line),
    '',
    `${rows.length} files from ${t.origins} origins; lint refuses ${t.refused};` +
      ` ${t.traceable} trace end to end (${pct(t.traceable, rows.length)}, target 90%); ` +
      (`${t.modelledOfTraceable}/${t.rulesOfTraceable} rule lines of those modelled` +
        ` (${pct(t.modelledOfTraceable, t.rulesOfTraceable)}, target 95%); `) +
      `${t.modelled}/${t.rules} of all files (${pct(t.modelled, t.rules)}); ` +
      `${t.indeterminate} probes indeterminate on the model; ` +
      (t.kernelProbes ? `${t.agreeing}/${t.kernelProbes} probes agree with the kernel` : 'the kernel did not run'),
  ].join('\n');
}

/** The same table in Markdown, for the README (`npm run realworld -- --markdown`). */
export function renderMarkdown(rows: readonly RealworldRow[]): string {
  const t = totals(rows);
  const cell = (r: RealworldRow) =>
    r.lintRefused
      ? 'lint refuses'
      : r.traceable
        ? 'yes'
        : r.indeterminate
          ? `no (${r.indeterminate} open)`
          : `no (${r.blocker ?? '?'})`;
  const agree = (r: RealworldRow) => (r.agreeing === undefined ? `-/${r.probes}` : `${r.agreeing}/${r.probes}`);
  return [
    '| file | origin | rules | modelled | traceable | probes agreeing |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.file.replace(/^rules\//, '')} | ${r.origin} | ${r.rules} |` +
        ` ${pct(r.modelled, r.rules)} | ${cell(r)} | ${agree(r)} |`,
    ),
    `| **all: ${rows.length} files, ${t.origins} origins** | | ${t.rules} |` +
      ` ${pct(t.modelled, t.rules)} | ${t.traceable} (${pct(t.traceable, rows.length)}) |` +
      ` ${t.kernelProbes ? `${t.agreeing}/${t.kernelProbes}` : '-'} |`,
  ].join('\n');
}

export interface Totals {
  origins: number;
  refused: number;
  traceable: number;
  rules: number;
  modelled: number;
  rulesOfTraceable: number;
  modelledOfTraceable: number;
  kernelProbes: number;
  agreeing: number;
  /** probes whose model outcome is indeterminate */
  indeterminate: number;
}

export function totals(rows: readonly RealworldRow[]): Totals {
  const tr = rows.filter((r) => r.traceable);
  const ran = rows.filter((r) => r.agreeing !== undefined);
  const sum = (rs: readonly RealworldRow[], f: (r: RealworldRow) => number) => rs.reduce((a, r) => a + f(r), 0);
  return {
    origins: new Set(rows.map((r) => r.origin)).size,
    refused: rows.filter((r) => r.lintRefused).length,
    traceable: tr.length,
    rules: sum(rows, (r) => r.rules),
    modelled: sum(rows, (r) => r.modelled),
    rulesOfTraceable: sum(tr, (r) => r.rules),
    modelledOfTraceable: sum(tr, (r) => r.modelled),
    kernelProbes: sum(ran, (r) => r.probes),
    agreeing: sum(ran, (r) => r.agreeing ?? 0),
    indeterminate: sum(rows, (r) => r.indeterminate),
  };
}

/** What blocks the files that do not trace, by feature: feature -> files. */
export function blockers(rows: readonly RealworldRow[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) {
    if (r.traceable) continue;
    const features = new Set(r.unsupported.map((u) => u.feature.replace(/ \(.*$/, '')));
    if (!features.size && r.blocker) features.add(r.blocker);
    for (const f of features) out.set(f, [...(out.get(f) ?? []), r.id]);
  }
  return out;
}
