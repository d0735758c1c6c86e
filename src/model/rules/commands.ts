// The iptables commands (-A -I -R -D -N -F -X -P) applied to a Ruleset. Both the
// iptables-save reader and the command-line reader go through here.
import { InputError, type SourcePos } from '../errors.ts';
import {
  type Ruleset,
  type Rule,
  type TableName,
  type Chain,
  type IptablesFlavor,
  TABLES,
  isBuiltinChain,
  tableOf,
} from './types.ts';
import { RESERVED_CHAIN_NAMES } from './descriptors.ts';
import { parseRuleSpec } from './parse-rule.ts';
import type { Token } from './tokenize.ts';
import { ruleKey } from './print.ts';
import type { Accounts } from './accounts.ts';

export const MAX_CHAIN_NAME = 28;

export function checkChainName(name: string, pos: SourcePos): void {
  if (name.length > MAX_CHAIN_NAME)
    throw new InputError('invalid', `chain name "${name}" is longer than ${MAX_CHAIN_NAME} characters`, pos);
  if (name.length === 0 || name.startsWith('-') || name.startsWith('!') || /\s/.test(name))
    throw new InputError('invalid', `invalid chain name "${name}"`, pos);
  if (RESERVED_CHAIN_NAMES.has(name)) throw new InputError('invalid', `chain name "${name}" is a target name`, pos);
}

export function parseTable(name: string, pos: SourcePos): TableName {
  if ((TABLES as readonly string[]).includes(name)) return name as TableName;
  throw new InputError('invalid', `unknown table "${name}" (expected ${TABLES.join(', ')})`, pos);
}

export interface CommandContext {
  file: string;
  line: number;
  backend?: IptablesFlavor;
  /** iptables-restore --noflush: a chain the rule jumps to but the text never declares exists already */
  assumeChains?: boolean;
  /** refuse names iptables 1.8.9 cannot load (see ReadOptions.refuseForeign) */
  refuseForeign?: boolean;
  /** user and group names (see ReadOptions.accounts) */
  accounts?: Accounts;
}

function chainOf(rs: Ruleset, table: TableName, name: string, pos: SourcePos): Chain {
  const c = tableOf(rs, table).chains.get(name);
  if (!c) throw new InputError('invalid', `chain "${name}" does not exist in table ${table}`, pos);
  return c;
}

/** Executes one command given as tokens (the leading "iptables" already removed). */
export function applyCommand(
  rs: Ruleset,
  toks: readonly Token[],
  ctx: CommandContext,
  defaultTable: TableName = 'filter',
): void {
  let table = defaultTable;
  const rest: Token[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.text === '-t' || t.text === '--table') {
      const arg = toks[i + 1];
      if (!arg) throw new InputError('syntax', '-t needs a table name', { file: ctx.file, line: ctx.line, col: t.col });
      table = parseTable(arg.text, { file: ctx.file, line: ctx.line, col: arg.col });
      i++;
    } else if (t.text === '-w' || t.text === '--wait') {
      if (toks[i + 1] && /^\d+$/.test(toks[i + 1]!.text)) i++;
    } else rest.push(t);
  }
  const cmd = rest[0];
  const at = (tok: Token | undefined): SourcePos => ({ file: ctx.file, line: ctx.line, col: tok?.col ?? 1 });
  if (!cmd) throw new InputError('syntax', 'no command (-A, -I, -R, -D, -N, -F, -X or -P)', at(undefined));
  const chainTok = rest[1];
  const tbl = tableOf(rs, table);
  const needChain = () => {
    if (!chainTok || chainTok.text.startsWith('-'))
      throw new InputError('syntax', `${cmd.text} needs a chain name`, at(cmd));
    return chainTok.text;
  };
  const spec = (from: number): Rule[] => {
    const chain = needChain();
    const rules = parseRuleSpec(rest.slice(from), {
      file: ctx.file,
      line: ctx.line,
      table,
      chain,
      hasChain: (n) => {
        if (tbl.chains.has(n)) return true;
        if (!ctx.assumeChains || isBuiltinChain(table, n) || RESERVED_CHAIN_NAMES.has(n) || n.length > MAX_CHAIN_NAME)
          return false;
        tbl.chains.set(n, { name: n, rules: [] });
        return true;
      },
      ...(ctx.backend ? { backend: ctx.backend } : {}),
      ...(ctx.accounts ? { accounts: ctx.accounts } : {}),
    });
    for (const r of rules) r.pos = at(cmd);
    // a command runs the real iptables: a name that is neither a chain of the table nor an extension
    // iptables 1.8.9 ships is refused there ("Couldn't load target"), not kept as unknown (lint keeps it)
    for (const r of ctx.refuseForeign ? rules : []) {
      const foreign = [...r.matches, ...(r.target?.kind === 'ext' ? [r.target.ext] : [])].find(
        (e) => e.opaque?.foreign,
      );
      if (foreign)
        throw new InputError(
          'invalid',
          `Couldn't load ${foreign === (r.target?.kind === 'ext' ? r.target.ext : undefined) ? 'target' : 'match'}` +
            ` "${foreign.name}": no chain of that name in table ${table}, and iptables 1.8.9 ships no such extension`,
          foreign.opaque!.pos ?? at(cmd),
        );
    }
    return rules;
  };
  switch (cmd.text) {
    case '-A':
    case '--append': {
      const c = chainOf(rs, table, needChain(), at(chainTok));
      c.rules.push(...spec(2));
      return;
    }
    case '-I':
    case '--insert': {
      const c = chainOf(rs, table, needChain(), at(chainTok));
      let from = 2;
      let index = 1;
      const n = rest[2];
      if (n && /^\d+$/.test(n.text)) {
        index = Number(n.text);
        from = 3;
        if (index < 1 || index > c.rules.length + 1)
          throw new InputError(
            'invalid',
            `index of insertion too big (chain ${c.name} has ${c.rules.length} rules)`,
            at(n),
          );
      }
      c.rules.splice(index - 1, 0, ...spec(from));
      return;
    }
    case '-R':
    case '--replace': {
      const c = chainOf(rs, table, needChain(), at(chainTok));
      const n = rest[2];
      if (!n || !/^\d+$/.test(n.text)) throw new InputError('syntax', '-R needs a rule number', at(n ?? chainTok));
      const index = Number(n.text);
      if (index < 1 || index > c.rules.length)
        throw new InputError(
          'invalid',
          `index of replacement too big (chain ${c.name} has ${c.rules.length} rules)`,
          at(n),
        );
      const rules = spec(3);
      // iptables: "Replacement rule does not specify a unique address"
      if (rules.length !== 1)
        throw new InputError('invalid', '-R: the replacement rule does not specify a unique address', at(cmd));
      c.rules[index - 1] = rules[0]!;
      return;
    }
    case '-D':
    case '--delete': {
      const c = chainOf(rs, table, needChain(), at(chainTok));
      const n = rest[2];
      if (n && /^\d+$/.test(n.text) && rest.length === 3) {
        const index = Number(n.text);
        if (index < 1 || index > c.rules.length)
          throw new InputError(
            'invalid',
            `index of deletion too big (chain ${c.name} has ${c.rules.length} rules)`,
            at(n),
          );
        c.rules.splice(index - 1, 1);
        return;
      }
      for (const r of spec(2)) {
        const key = ruleKey(r);
        const idx = c.rules.findIndex((x) => ruleKey(x) === key);
        if (idx < 0) throw new InputError('invalid', `Bad rule (does a matching rule exist in that chain?)`, at(cmd));
        c.rules.splice(idx, 1);
      }
      return;
    }
    case '-N':
    case '--new-chain': {
      const name = needChain();
      checkChainName(name, at(chainTok));
      if (tbl.chains.has(name)) throw new InputError('invalid', `Chain already exists: ${name}`, at(chainTok));
      tbl.chains.set(name, { name, rules: [] });
      return;
    }
    case '-F':
    case '--flush': {
      if (chainTok) chainOf(rs, table, chainTok.text, at(chainTok)).rules = [];
      else for (const c of tbl.chains.values()) c.rules = [];
      return;
    }
    case '-X':
    case '--delete-chain': {
      const names = chainTok ? [chainTok.text] : [...tbl.chains.keys()].filter((n) => !isBuiltinChain(table, n));
      for (const name of names) {
        const c = chainOf(rs, table, name, at(chainTok));
        if (isBuiltinChain(table, name))
          throw new InputError('invalid', `cannot delete built-in chain ${name}`, at(chainTok));
        if (chainTok && c.rules.length > 0)
          throw new InputError('invalid', `Directory not empty: chain ${name} still has rules`, at(chainTok));
        const referrer = [...tbl.chains.values()].find((o) =>
          o.rules.some((r) => (r.target?.kind === 'jump' || r.target?.kind === 'goto') && r.target.chain === name),
        );
        if (referrer && !(names.includes(referrer.name) && !chainTok))
          throw new InputError(
            'invalid',
            `Too many links: chain ${name} is referenced from ${referrer.name}`,
            at(chainTok),
          );
      }
      for (const name of names) tbl.chains.delete(name);
      return;
    }
    case '-P':
    case '--policy': {
      const name = needChain();
      const p = rest[2];
      if (!isBuiltinChain(table, name))
        throw new InputError('invalid', `-P needs a built-in chain of table ${table}, not "${name}"`, at(chainTok));
      if (!p || (p.text !== 'ACCEPT' && p.text !== 'DROP'))
        throw new InputError('syntax', '-P needs ACCEPT or DROP', at(p ?? chainTok));
      chainOf(rs, table, name, at(chainTok)).policy = p.text;
      return;
    }
    case '-L':
    case '-S':
    case '-Z':
    case '--list':
    case '--list-rules':
    case '--zero':
      return; // read-only or counter-only: no effect on the model's ruleset
    default:
      throw new InputError('syntax', `unknown command "${cmd.text}"`, at(cmd));
  }
}
