// Reads rulesets: iptables-save / iptables-restore text, or a file of iptables
// command lines as the seed writes them. Validation runs per COMMIT, as the kernel does.
import { InputError } from '../errors.ts';
import {
  type Ruleset,
  type TableName,
  type IptablesFlavor,
  emptyRuleset,
  emptyTable,
  isBuiltinChain,
} from './types.ts';
import { tokenize, tokenizeRestore, type Token } from './tokenize.ts';
import { applyCommand, checkChainName, parseTable } from './commands.ts';
import { validateTable } from './validate.ts';
import { unsupportedProblems } from './opaque.ts';
import type { Accounts } from './accounts.ts';

export type RulesetFormat = 'save' | 'commands';

export function detectFormat(text: string): RulesetFormat {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    return line.startsWith('*') || line.startsWith(':') ? 'save' : 'commands';
  }
  return 'save';
}

export interface ReadOptions {
  file?: string;
  backend?: IptablesFlavor;
  /** collect every problem here and read on (the bad line is left out) instead of stopping at the first */
  problems?: InputError[];
  /** `iptables-restore --noflush`: tables are added to, not replaced, and chains the text jumps to without
   * declaring them are taken to exist already (kube-proxy's restore input, ufw's before.rules) */
  noflush?: boolean;
  /** the commands run on the real iptables (a case's command steps): a name that is neither a chain nor a
   *  shipped extension is refused, as iptables refuses it, instead of kept as unknown (lint's reading) */
  refuseForeign?: boolean;
  /** the user and group names `-m owner` resolves, as getpwnam/getgrnam do on the machine the rules are for
   *  (default: Debian's base-passwd accounts, accounts.ts) */
  accounts?: Accounts;
}

/** Runs `f`; an InputError is collected when `problems` is given, else thrown. Returns whether f succeeded. */
function attempt(problems: InputError[] | undefined, f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (problems && e instanceof InputError) {
      problems.push(e);
      return false;
    }
    throw e;
  }
}

export function parseRuleset(text: string, opts: ReadOptions = {}): Ruleset {
  return detectFormat(text) === 'save' ? parseSave(text, opts) : parseCommands(text, opts);
}

/** iptables-save output (or iptables-restore input). Each *table block replaces that table. */
export function parseSave(text: string, opts: ReadOptions = {}): Ruleset {
  const file = opts.file ?? '<ruleset>';
  const backend = opts.backend ?? 'nft';
  const problems = opts.problems;
  const rs = emptyRuleset();
  let current: TableName | undefined;
  /** a table header that could not be read: its lines are skipped up to COMMIT */
  let skipping = false;
  let startLine = 0;
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    const pos = (col = 1) => ({ file, line: lineNo, col });
    if (trimmed === '' || trimmed.startsWith('#')) return;
    attempt(problems, () => {
      if (trimmed.startsWith('*')) {
        if (current || skipping) {
          const open = current ?? 'table';
          current = undefined;
          skipping = false;
          throw new InputError('syntax', `${open} (line ${startLine}) has no COMMIT before a new table`, pos());
        }
        startLine = lineNo;
        // iptables-restore takes the first word after "*" (strtok): "* nat" is the nat table (Istio writes it)
        const name = trimmed.slice(1).trim().split(/\s+/)[0] ?? '';
        skipping = true;
        current = parseTable(name, pos(line.indexOf(name) + 1));
        skipping = false;
        if (!opts.noflush || !rs.tables.has(current)) rs.tables.set(current, emptyTable(current));
        return;
      }
      if (skipping && trimmed !== 'COMMIT') return;
      if (!current && !skipping)
        throw new InputError('syntax', 'rule or chain outside a table (expected "*filter", "*nat", ...)', pos());
      if (trimmed === 'COMMIT') {
        const t = current;
        current = undefined;
        skipping = false;
        if (t) validateTable(rs.tables.get(t)!, backend, file, problems);
        return;
      }
      const table = current!;
      if (trimmed.startsWith(':')) {
        const m = /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?\s*$/.exec(trimmed);
        if (!m) throw new InputError('syntax', 'bad chain line (expected ":NAME POLICY [packets:bytes]")', pos());
        const [, name, policy, p, b] = m as unknown as [string, string, string, string?, string?];
        const t = rs.tables.get(table)!;
        const counters = p !== undefined ? ([Number(p), Number(b)] as const) : undefined;
        if (isBuiltinChain(table, name)) {
          if (policy !== 'ACCEPT' && policy !== 'DROP')
            throw new InputError('syntax', `bad policy "${policy}" for built-in chain ${name}`, pos(name.length + 3));
          const c = t.chains.get(name)!;
          c.policy = policy;
          if (counters) c.policyCounters = counters;
        } else {
          if (policy !== '-')
            throw new InputError(
              'syntax',
              `user chain ${name} cannot have a policy ("${policy}"); use "-"`,
              pos(name.length + 3),
            );
          checkChainName(name, pos(2));
          // declaring a chain that exists flushes it (iptables-restore), with or without --noflush
          t.chains.set(name, { name, rules: [] });
        }
        return;
      }
      let toks = tokenizeRestore(line);
      let counters: readonly [number, number] | undefined;
      const first = toks[0];
      // a lone quote leaves no argument: iptables-restore says "Bad argument" (measured, 1.8.9; found by the
      // mutated-input property, test/unit/mutated-inputs.test.ts)
      if (!first) throw new InputError('syntax', 'bad argument: an unterminated quote', { file, line: lineNo, col: 1 });
      const cm = /^\[(\d+):(\d+)\]$/.exec(first.text);
      if (cm) {
        counters = [Number(cm[1]), Number(cm[2])];
        toks = toks.slice(1);
      }
      applyCommand(
        rs,
        toks,
        {
          file,
          line: lineNo,
          backend,
          ...(opts.noflush ? { assumeChains: true } : {}),
          ...(opts.accounts ? { accounts: opts.accounts } : {}),
        },
        table,
      );
      if (counters) {
        const chain = rs.tables.get(table)!.chains.get(toks[1]?.text ?? '');
        const last = chain?.rules.at(-1);
        if (last && toks[0]?.text === '-A') last.counters = counters;
      }
    });
  });
  if (current) {
    let last = lines.length;
    while (last > 1 && lines[last - 1]!.trim() === '') last--;
    attempt(problems, () => {
      throw new InputError('syntax', `table ${current} opened at line ${startLine} has no COMMIT`, {
        file,
        line: last,
        col: 1,
      });
    });
  }
  problems?.push(...unsupportedProblems(rs));
  return rs;
}

/** Joins shell continuation lines ("...\\" at the end of a line), keeping each command's first line number. */
function logicalLines(text: string): { line: string; lineNo: number }[] {
  const out: { line: string; lineNo: number }[] = [];
  let acc: string | undefined;
  let start = 0;
  text.split('\n').forEach((raw, idx) => {
    const line = raw.replace(/\r$/, '');
    if (acc === undefined) start = idx + 1;
    const cont = /(^|[^\\])(\\\\)*\\$/.test(line);
    const piece = cont ? line.slice(0, -1) : line;
    acc = acc === undefined ? piece : `${acc} ${piece}`;
    if (!cont) {
      out.push({ line: acc, lineNo: start });
      acc = undefined;
    }
  });
  if (acc !== undefined) out.push({ line: acc, lineNo: start });
  return out;
}

/** An iptables program name as scripts call it: iptables, /sbin/iptables, /usr/sbin/iptables-legacy, ... */
const IPTABLES_PROGRAM = /^(?:\/usr)?(?:\/s?bin\/)?iptables(?:-nft|-legacy)?$/;

/** Lines of "iptables [-t T] -A ..." commands, as scripts write them: `sudo` and program paths, backslash
 * continuations; blank lines and # comments are skipped. */
export function parseCommands(text: string, opts: ReadOptions = {}): Ruleset {
  return applyCommandLines(emptyRuleset(), text, opts);
}

/** One command line as iptables' arguments (the leading `sudo` and `iptables`, `/sbin/iptables-legacy`... dropped). */
export function commandArgs(line: string, file: string, lineNo: number): Token[] {
  let toks = tokenize(line, file, lineNo);
  if (toks[0]?.text === 'sudo') toks = toks.slice(1);
  if (toks[0] && IPTABLES_PROGRAM.test(toks[0].text)) toks = toks.slice(1);
  else if (!toks[0]?.text.startsWith('-')) {
    throw new InputError(
      'syntax',
      /ip6tables/.test(toks[0]?.text ?? '')
        ? 'ip6tables (IPv6) is not modelled'
        : `expected an iptables command, got "${toks[0]?.text}"`,
      { file, line: lineNo, col: toks[0]?.col ?? 1 },
    );
  }
  return toks;
}

/** Command lines (-A -I -R -D -N -F -X -P) run in order on a copy of `base`, as a host's iptables would. */
export function applyCommandLines(base: Ruleset, text: string, opts: ReadOptions = {}): Ruleset {
  const file = opts.file ?? '<commands>';
  const problems = opts.problems;
  const rs = structuredClone(base);
  const touched = new Set<TableName>();
  for (const { line, lineNo } of logicalLines(text)) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    attempt(problems, () =>
      applyCommand(rs, commandArgs(line, file, lineNo), {
        file,
        line: lineNo,
        backend: opts.backend ?? 'nft',
        ...(opts.refuseForeign ? { refuseForeign: true } : {}),
        ...(opts.accounts ? { accounts: opts.accounts } : {}),
      }),
    );
    // a table is validated when a command named it, or (from an empty ruleset) created it
    for (const t of rs.tables.keys()) if (!base.tables.has(t)) touched.add(t);
    touched.add(tableOfLine(line));
  }
  for (const t of touched)
    if (rs.tables.has(t)) validateTable(rs.tables.get(t)!, opts.backend ?? 'nft', file, problems);
  problems?.push(...unsupportedProblems(rs));
  return rs;
}

/** The table a command line names (-t), filter otherwise. */
function tableOfLine(line: string): TableName {
  const m = /(?:^|\s)(?:-t|--table)\s+(\w+)/.exec(line);
  return (m?.[1] ?? 'filter') as TableName;
}

/**
 * What iptables-restore (without --noflush) leaves after reading `text`: each table it names is replaced at
 * that table's COMMIT, every other table stays as it was. A refused restore keeps the tables it committed
 * before the error: both flavors commit per COMMIT line (iptables-restore.c and xtables-restore.c call
 * `cb->commit` at each COMMIT; measured with iptables 1.8.9, nft and legacy: a valid *filter followed by a
 * *nat with a jump to a missing chain exits 2 with the filter rules loaded). `refusal` is the model's
 * refusal of the whole text (its line says where reading stopped).
 */
export function restoreOnto(
  current: Ruleset | undefined,
  text: string,
  next: Ruleset | undefined,
  refusal: InputError | undefined,
  opts: ReadOptions = {},
): Ruleset | undefined {
  const committed = next ?? (refusal ? committedBefore(text, refusal.pos?.line, opts) : undefined);
  if (!committed) return current;
  return { ...current, tables: new Map([...(current?.tables ?? []), ...committed.tables]) };
}

/** The tables of a refused restore whose COMMIT came before the error line. */
function committedBefore(text: string, errorLine: number | undefined, opts: ReadOptions): Ruleset | undefined {
  if (detectFormat(text) !== 'save' || !errorLine || opts.noflush) return undefined;
  const lines = text.split('\n');
  let upTo = 0;
  for (let i = 0; i < Math.min(errorLine - 1, lines.length); i++) if (lines[i]!.trim() === 'COMMIT') upTo = i + 1;
  if (upTo === 0) return undefined;
  try {
    return parseSave(lines.slice(0, upTo).join('\n') + '\n', opts);
  } catch (e) {
    if (e instanceof InputError) return undefined;
    throw e;
  }
}
