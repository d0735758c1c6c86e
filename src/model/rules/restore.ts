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
}

export function parseRuleset(text: string, opts: ReadOptions = {}): Ruleset {
  return detectFormat(text) === 'save' ? parseSave(text, opts) : parseCommands(text, opts);
}

/** iptables-save output (or iptables-restore input). Each *table block replaces that table. */
export function parseSave(text: string, opts: ReadOptions = {}): Ruleset {
  const file = opts.file ?? '<ruleset>';
  const backend = opts.backend ?? 'nft';
  const rs = emptyRuleset();
  let current: TableName | undefined;
  let startLine = 0;
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.replace(/\r$/, '');
    const trimmed = line.trim();
    const pos = (col = 1) => ({ file, line: lineNo, col });
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (trimmed.startsWith('*')) {
      if (current)
        throw new InputError('syntax', `table ${current} (line ${startLine}) has no COMMIT before a new table`, pos());
      current = parseTable(trimmed.slice(1), pos(2));
      startLine = lineNo;
      rs.tables.set(current, emptyTable(current));
      return;
    }
    if (!current)
      throw new InputError('syntax', 'rule or chain outside a table (expected "*filter", "*nat", ...)', pos());
    if (trimmed === 'COMMIT') {
      validateTable(rs.tables.get(current)!, backend, file);
      current = undefined;
      return;
    }
    if (trimmed.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?\s*$/.exec(trimmed);
      if (!m) throw new InputError('syntax', 'bad chain line (expected ":NAME POLICY [packets:bytes]")', pos());
      const [, name, policy, p, b] = m as unknown as [string, string, string, string?, string?];
      const t = rs.tables.get(current)!;
      const counters = p !== undefined ? ([Number(p), Number(b)] as const) : undefined;
      if (isBuiltinChain(current, name)) {
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
        t.chains.set(name, { name, rules: [] });
      }
      return;
    }
    let toks = tokenizeRestore(line);
    let counters: readonly [number, number] | undefined;
    const first = toks[0]!;
    const cm = /^\[(\d+):(\d+)\]$/.exec(first.text);
    if (cm) {
      counters = [Number(cm[1]), Number(cm[2])];
      toks = toks.slice(1);
    }
    applyCommand(rs, toks, { file, line: lineNo, backend }, current);
    if (counters) {
      const chain = rs.tables.get(current)!.chains.get(toks[1]?.text ?? '');
      const last = chain?.rules.at(-1);
      if (last && toks[0]?.text === '-A') last.counters = counters;
    }
  });
  if (current) {
    let last = lines.length;
    while (last > 1 && lines[last - 1]!.trim() === '') last--;
    throw new InputError('syntax', `table ${current} opened at line ${startLine} has no COMMIT`, {
      file,
      line: last,
      col: 1,
    });
  }
  return rs;
}

/** Lines of "iptables [-t T] -A ..." commands; blank lines and # comments are skipped. */
export function parseCommands(text: string, opts: ReadOptions = {}): Ruleset {
  return applyCommandLines(emptyRuleset(), text, opts);
}

/** One command line as iptables' arguments (the leading `sudo` and `iptables[-nft|-legacy]` dropped). */
export function commandArgs(line: string, file: string, lineNo: number): Token[] {
  let toks = tokenize(line, file, lineNo);
  if (toks[0]?.text === 'sudo') toks = toks.slice(1);
  if (toks[0] && /^(\/usr\/s?bin\/)?iptables(-nft|-legacy)?$/.test(toks[0].text)) toks = toks.slice(1);
  else if (!toks[0]?.text.startsWith('-')) {
    throw new InputError('syntax', `expected an iptables command, got "${toks[0]?.text}"`, {
      file,
      line: lineNo,
      col: toks[0]?.col ?? 1,
    });
  }
  return toks;
}

/** Command lines (-A -I -R -D -N -F -X -P) run in order on a copy of `base`, as a host's iptables would. */
export function applyCommandLines(base: Ruleset, text: string, opts: ReadOptions = {}): Ruleset {
  const file = opts.file ?? '<commands>';
  const rs = structuredClone(base);
  const touched = new Set<TableName>();
  text.split('\n').forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    applyCommand(rs, commandArgs(line, file, lineNo), { file, line: lineNo, backend: opts.backend ?? 'nft' });
    // a table is validated when a command named it, or (from an empty ruleset) created it
    for (const t of rs.tables.keys()) if (!base.tables.has(t)) touched.add(t);
    touched.add(tableOfLine(line));
  });
  for (const t of touched) if (rs.tables.has(t)) validateTable(rs.tables.get(t)!, opts.backend ?? 'nft', file);
  return rs;
}

/** The table a command line names (-t), filter otherwise. */
function tableOfLine(line: string): TableName {
  const m = /(?:^|\s)(?:-t|--table)\s+(\w+)/.exec(line);
  return (m?.[1] ?? 'filter') as TableName;
}
