// Real iptables as the judge of the rule language: rule texts are loaded with
// iptables-restore and read back with iptables-save, in a throw-away `unshare -n`
// namespace, many rules per call (spec/iptables.md §8). A refused batch is narrowed
// down by the line iptables names, or by halving when it names none (legacy COMMIT).
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IptablesFlavor, TableName } from '../model/index.ts';

/** Where a rule is put: directly in a built-in chain, or in its own user chain (jumped to from `via`, or not). */
export interface RulePlacement {
  table: TableName;
  /** a built-in chain of the table for a direct rule; absent: the rule gets its own user chain */
  builtin?: string;
  /** for a user-chain rule: the built-in chain that jumps to it (so hook checks apply) */
  via?: string;
}

export interface RuleItem extends RulePlacement {
  /** the rule text after "-A CHAIN" */
  spec: string;
}

export type OracleVerdict = { ok: true; rules: string[] } | { ok: false; message: string };

/** An empty chain every batch declares, so that rules may jump or go to it. */
export const TARGET_CHAIN = 'TGT';
/** nfacct counters every namespace has, so that `-m nfacct` rules can load. */
export const NFACCT_NAMES = ['acct0', 'acct1', 'kube_pkts'] as const;
/** ipsets every namespace has, so that `-m set` rules can load (a set must exist: libxt_set get_set_byname). */
export const IPSET_NAMES = ['allowed', 'blocked'] as const;
const IPSETS = 'ipset create allowed hash:ip >/dev/null 2>&1; ipset create blocked hash:net,port >/dev/null 2>&1';

const SCRIPT = [
  'b=$1; t=$2; shift 2',
  'for n in "$@"; do nfacct add "$n" >/dev/null 2>&1; done',
  IPSETS,
  'iptables-$b-restore || exit $?',
  'exec iptables-$b-save -t "$t"',
].join('\n');

interface Batch {
  text: string;
  /** restore line number -> index into the batch's items */
  lineOf: Map<number, number>;
  userChain: (i: number) => string | undefined;
}

function buildBatch(table: TableName, items: readonly RuleItem[]): Batch {
  const lines = [`*${table}`, `:${TARGET_CHAIN} - [0:0]`];
  items.forEach((it, i) => {
    if (!it.builtin) lines.push(`:R${i} - [0:0]`);
  });
  const lineOf = new Map<number, number>();
  items.forEach((it, i) => {
    if (!it.builtin && it.via) {
      lines.push(`-A ${it.via} -j R${i}`);
      lineOf.set(lines.length, i);
    }
  });
  items.forEach((it, i) => {
    if (it.builtin) {
      lines.push(`-A ${it.builtin} -m comment --comment M${i}`);
      lines.push(`-A ${it.builtin} ${it.spec}`);
    } else lines.push(`-A R${i} ${it.spec}`);
    lineOf.set(lines.length, i);
  });
  lines.push('COMMIT', '');
  return { text: lines.join('\n'), lineOf, userChain: (i) => (items[i]!.builtin ? undefined : `R${i}`) };
}

/** The rules iptables-save printed for each item, attributed through user chains and markers. */
function attribute(save: string, items: readonly RuleItem[]): string[][] {
  const out: string[][] = items.map(() => []);
  let current: number | undefined;
  for (const line of save.split('\n')) {
    const m = /^-A (\S+)(?: (.*))?$/.exec(line);
    if (!m) continue;
    const [, chain, rest = ''] = m;
    const user = /^R(\d+)$/.exec(chain!);
    if (user) {
      out[Number(user[1])]?.push(rest);
      continue;
    }
    const marker = /^-m comment --comment M(\d+)$/.exec(rest);
    if (marker) {
      current = Number(marker[1]);
      continue;
    }
    if (/^-j R\d+$/.test(rest)) continue;
    if (current !== undefined) out[current]!.push(rest);
  }
  return out;
}

async function runBatch(backend: IptablesFlavor, table: TableName, text: string) {
  const counters = text.includes('nfacct') ? NFACCT_NAMES : [];
  return execa('unshare', ['-n', 'sh', '-c', SCRIPT, 'sh', backend, table, ...counters], {
    input: text,
    reject: false,
  });
}

const SINGLES = [
  'b=$1; d=$2; shift 2',
  'for n in "$@"; do nfacct add "$n" >/dev/null 2>&1; done',
  IPSETS,
  'cd "$d" || exit 99',
  'for f in *.in; do iptables-$b-restore < "$f" 2> "${f%.in}.err"; echo $? > "${f%.in}.rc"; done',
].join('\n');

/** Each item alone, all in one namespace and one shell: cheap refusals (no iptables-save, no node per rule). */
async function singles(
  backend: IptablesFlavor,
  items: readonly RuleItem[],
): Promise<({ ok: true } | { ok: false; message: string })[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-parser-'));
  try {
    items.forEach((it, i) =>
      writeFileSync(join(dir, `${String(i).padStart(5, '0')}.in`), buildBatch(it.table, [it]).text),
    );
    const counters = items.some((it) => it.spec.includes('nfacct')) ? NFACCT_NAMES : [];
    const r = await execa('unshare', ['-n', 'sh', '-c', SINGLES, 'sh', backend, dir, ...counters], { reject: false });
    if (r.exitCode !== 0) throw new Error(`iptables oracle: ${String(r.stderr)}`);
    return items.map((_, i) => {
      const base = join(dir, String(i).padStart(5, '0'));
      const rc = Number(readFileSync(`${base}.rc`, 'utf8').trim());
      return rc === 0 ? { ok: true } : { ok: false, message: readFileSync(`${base}.err`, 'utf8').trim() };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Loads the items with the real iptables of `backend` and reports each one's fate. Items marked in
 * `likelyRefused` are first tried one by one (a refusal then costs one iptables-restore, not a batch);
 * the rest, and those that loaded after all, go in batches read back with iptables-save.
 */
export async function judgeWithIptables(
  backend: IptablesFlavor,
  items: readonly RuleItem[],
  likelyRefused: readonly boolean[] = [],
): Promise<OracleVerdict[]> {
  const verdicts: (OracleVerdict | undefined)[] = items.map(() => undefined);
  const lone = items.map((_, i) => i).filter((i) => likelyRefused[i]);
  if (lone.length) {
    const r = await singles(
      backend,
      lone.map((i) => items[i]!),
    );
    lone.forEach((g, k) => {
      const v = r[k]!;
      if (!v.ok) verdicts[g] = v;
    });
  }
  const tables = new Set(items.map((i) => i.table));
  for (const table of tables) {
    const idx = items.map((it, i) => (it.table === table && !verdicts[i] ? i : -1)).filter((i) => i >= 0);
    await narrow(backend, table, items, idx, verdicts);
  }
  return verdicts.map((v) => v ?? { ok: false, message: 'internal: not judged' });
}

async function narrow(
  backend: IptablesFlavor,
  table: TableName,
  all: readonly RuleItem[],
  idx: number[],
  verdicts: (OracleVerdict | undefined)[],
): Promise<void> {
  let todo = idx;
  while (todo.length > 0) {
    const items = todo.map((i) => all[i]!);
    const batch = buildBatch(table, items);
    const r = await runBatch(backend, table, batch.text);
    if (r.exitCode === 0) {
      const rules = attribute(String(r.stdout), items);
      todo.forEach((g, k) => (verdicts[g] = { ok: true, rules: rules[k]! }));
      return;
    }
    const msg = String(r.stderr).trim();
    const at = /Error occurred at line: (\d+)/.exec(msg) ?? /^line (\d+):/m.exec(msg);
    const k = at ? batch.lineOf.get(Number(at[1])) : undefined;
    if (k !== undefined) {
      verdicts[todo[k]!] = { ok: false, message: msg };
      todo = todo.filter((_, j) => j !== k);
      continue;
    }
    if (todo.length === 1) {
      verdicts[todo[0]!] = { ok: false, message: msg };
      return;
    }
    const half = Math.ceil(todo.length / 2);
    await narrow(backend, table, all, todo.slice(0, half), verdicts);
    await narrow(backend, table, all, todo.slice(half), verdicts);
    return;
  }
}
