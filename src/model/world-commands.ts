// What the commands a case may run between probes do to the model's state: `conntrack -F`,
// `conntrack -D` with filters, and writes to /proc/net/xt_recent/LIST (spec/case-file.md).
import type { U32 } from './ip.ts';
import type { World } from './lab-model.ts';
import { remove, entriesOf, type CtEntry, type Tuple } from './conntrack.ts';
import { ruleKey } from './rules/print.ts';
import { commandArgs } from './rules/restore.ts';
import { InputError } from './errors.ts';
import type { Ruleset, Table, TableName, IptablesFlavor } from './rules/types.ts';

/** conntrack -D filters: each given field must match (the --orig-* and --reply-* options). */
export interface ConntrackFilter {
  proto?: number;
  origSrc?: U32;
  origDst?: U32;
  origSport?: number;
  origDport?: number;
  replySrc?: U32;
  replyDst?: U32;
  replySport?: number;
  replyDport?: number;
}

const ports = (t: Tuple) => t.proto === 6 || t.proto === 17;

function matches(e: CtEntry, f: ConntrackFilter): boolean {
  const o = e.orig;
  const r = e.reply;
  return (
    (f.proto === undefined || o.proto === f.proto) &&
    (f.origSrc === undefined || o.src === f.origSrc) &&
    (f.origDst === undefined || o.dst === f.origDst) &&
    (f.origSport === undefined || (ports(o) && o.sport === f.origSport)) &&
    (f.origDport === undefined || (ports(o) && o.dport === f.origDport)) &&
    (f.replySrc === undefined || r.src === f.replySrc) &&
    (f.replyDst === undefined || r.dst === f.replyDst) &&
    (f.replySport === undefined || (ports(r) && r.sport === f.replySport)) &&
    (f.replyDport === undefined || (ports(r) && r.dport === f.replyDport))
  );
}

/** conntrack -D (a filter) or -F (none): the matching entries leave the host's table; how many did. */
export function conntrackDelete(world: World, host: string, filter: ConntrackFilter | undefined): number {
  const ct = world.hosts.get(host)!.ct;
  const gone = entriesOf(ct).filter((e) => e.expires > world.now && (!filter || matches(e, filter)));
  for (const e of gone) remove(ct, e);
  // a flow's late packet may now start a new connection the model does not follow: it may meet a nat rule's
  // bucket, so no bucket is sure of its count any more (spec/modules.md)
  if (gone.length) world.hosts.get(host)!.tokens.set('*', Infinity);
  return gone.length;
}

/** The recent lists a ruleset's rules name (xt_recent's --name, DEFAULT when not given). */
export function recentListsOf(rs: Ruleset | undefined): Set<string> {
  const names = new Set<string>();
  for (const t of rs?.tables.values() ?? [])
    for (const c of t.chains.values())
      for (const r of c.rules)
        for (const m of r.matches)
          if (m.name === 'recent') {
            const v = m.opts.find((o) => o.name === '--name')?.value;
            names.add(typeof v === 'string' ? v : 'DEFAULT');
          }
  return names;
}

/** xt_recent keeps a list (and its /proc file) while a rule names it: the last rule's destroy frees it with its
 *  entries, and a later rule starts it empty (recent_mt_check, recent_mt_destroy). */
export function pruneRecentLists(world: World, host: string, rs: Ruleset | undefined): void {
  const lists = world.hosts.get(host)?.recent;
  if (!lists?.size) return;
  const named = recentListsOf(rs);
  for (const name of [...lists.keys()]) if (!named.has(name)) lists.delete(name);
}

/** A write to /proc/net/xt_recent/LIST: "+addr" adds a hit now, "-addr" forgets it, "/" empties the list
 *  (recent_mt_proc_write in net/netfilter/xt_recent.c). */
export function recentWrite(
  world: World,
  host: string,
  list: string,
  op: { add: U32 } | { remove: U32 } | { flush: true },
): void {
  const lists = world.hosts.get(host)!.recent;
  let l = lists.get(list);
  if (!l) lists.set(list, (l = new Map()));
  if ('flush' in op) l.clear();
  else if ('remove' in op) l.delete(op.remove);
  else {
    // a new entry gets TTL 0 (matches any --rttl), an existing one keeps its own (recent_entry_init, _update)
    const e = l.get(op.add);
    l.set(op.add, e ? { ...e, stamps: [...e.stamps, world.now].slice(-20) } : { stamps: [world.now], ttl: 0 });
  }
}

const LONG: Record<string, string> = {
  '-A': '--append',
  '-I': '--insert',
  '-R': '--replace',
  '-D': '--delete',
  '-N': '--new-chain',
  '-F': '--flush',
  '-X': '--delete-chain',
  '-P': '--policy',
  '-Z': '--zero',
};
const SHORT: Record<string, string> = Object.fromEntries(Object.entries(LONG).map(([s, l]) => [l, s]));

/** iptables commands that change a table (libiptc commits only a changed handle: -L, -S, -C do not) */
const CHANGING = new Set(['-A', '-I', '-R', '-D', '-N', '-F', '-X', '-P', '-Z'].flatMap((v) => [v, LONG[v]!]));

/**
 * Per-rule state (statistic nth counters, keyed table/chain/position) across one iptables command `line`
 * that turned `before` into `after`. xt_statistic's checkentry gives each rule instance a new counter
 * (`info->master`, net/netfilter/xt_statistic.c statistic_mt_check). iptables-legacy replaces the whole
 * table on every command that changes it (libiptc TC_COMMIT, SO_SET_REPLACE: every entry checked anew),
 * even one that leaves its text alone (-P to the same policy, -Z), so all its rules restart. iptables-nft
 * sends only the rules the command names (nft.c): an added or replaced rule (-A, -I, -R) is a new rule
 * with a new counter, a deleted one is gone, and every other rule keeps its counter wherever it now stands
 * (-Z replaces the rules whose packet counters are not zero, which the model does not count: kept). A
 * legacy replace also refills every limit bucket of the table (restartLimits).
 */
export function carryRuleState(
  world: World,
  host: string,
  before: Ruleset,
  after: Ruleset,
  flavor: IptablesFlavor,
  line: string,
): void {
  const st = world.hosts.get(host);
  if (!st) return;
  const cmd = commandOf(line);
  if (!cmd || !CHANGING.has(cmd.verb)) return;
  if (flavor === 'legacy') restartLimits(st.tokens, [cmd.table]);
  if (st.nth.size === 0) return;
  const next = new Map<string, number>();
  for (const [key, count] of st.nth) {
    const first = key.indexOf('/');
    const last = key.lastIndexOf('/');
    const table = key.slice(0, first);
    const chain = key.slice(first + 1, last);
    const pos = Number(key.slice(last + 1));
    if (table !== cmd.table) next.set(key, count);
    else if (flavor === 'nft') {
      const to = movedTo(cmd, chain, pos, before.tables.get(cmd.table), after.tables.get(cmd.table));
      if (to !== undefined) next.set(`${table}/${chain}/${to}`, count);
    }
  }
  st.nth = next;
}

/** Where a rule at `pos` of `chain` stands after an iptables-nft command (undefined: gone or new). */
function movedTo(cmd: Command, chain: string, pos: number, before?: Table, after?: Table): number | undefined {
  if (cmd.chain !== undefined && cmd.chain !== chain) return pos;
  switch (LONG[cmd.verb] ? cmd.verb : SHORT[cmd.verb]) {
    case '-I': {
      const grew = (after?.chains.get(chain)?.rules.length ?? 0) - (before?.chains.get(chain)?.rules.length ?? 0);
      return pos >= (cmd.index ?? 1) ? pos + grew : pos;
    }
    case '-R':
      return pos === cmd.index ? undefined : pos;
    case '-D': {
      if (cmd.index !== undefined) return pos === cmd.index ? undefined : pos > cmd.index ? pos - 1 : pos;
      // by rule spec: the first rule equal to each rule the spec expands to (commands.ts)
      const keys = (t?: Table) => t?.chains.get(chain)?.rules.map(ruleKey) ?? [];
      const gone = new Map<string, number>();
      for (const k of keys(before)) gone.set(k, (gone.get(k) ?? 0) + 1);
      for (const k of keys(after)) gone.set(k, gone.get(k)! - 1);
      let to = 0;
      for (const [i, k] of keys(before).entries()) {
        if (gone.get(k)! > 0) {
          gone.set(k, gone.get(k)! - 1);
          if (i + 1 === pos) return undefined;
        } else to++;
        if (i + 1 === pos) return to;
      }
      return undefined;
    }
    case '-F':
      return undefined;
    case '-X':
      return after?.chains.has(chain) ? pos : undefined;
    default:
      return pos;
  }
}

interface Command {
  verb: string;
  table: TableName;
  chain: string | undefined;
  index: number | undefined;
}

/** The command, table, chain and rule number of an iptables command line (as commands.ts reads them). */
function commandOf(line: string): Command | undefined {
  let toks: string[];
  try {
    toks = commandArgs(line, '<command>', 1).map((t) => t.text);
  } catch (e) {
    if (e instanceof InputError) return undefined;
    throw e;
  }
  let table = 'filter';
  const rest: string[] = [];
  for (let i = 0; i < toks.length; i++) {
    if (toks[i] === '-t' || toks[i] === '--table') table = toks[++i] ?? table;
    else if (toks[i] === '-w' || toks[i] === '--wait') {
      if (/^\d+$/.test(toks[i + 1] ?? '')) i++;
    } else rest.push(toks[i]!);
  }
  const [verb, chain, n] = rest;
  if (!verb) return undefined;
  const hasChain = chain !== undefined && !chain.startsWith('-');
  return {
    verb,
    table: table as TableName,
    chain: hasChain ? chain : undefined,
    index: hasChain && n !== undefined && /^\d+$/.test(n) ? Number(n) : undefined,
  };
}

/**
 * A restore replaced `tables` of `host` (each at its COMMIT): every rule in them is a new rule instance with a
 * new nth counter and a full limit bucket, on both flavors (legacy: SO_SET_REPLACE; iptables-nft-restore
 * flushes the table and adds its rules anew).
 */
export function restartTables(world: World, host: string, tables: Iterable<TableName>): void {
  const st = world.hosts.get(host);
  if (!st) return;
  const gone = new Set<string>(tables);
  restartLimits(st.tokens, gone);
  st.nth = new Map([...st.nth].filter(([key]) => !gone.has(key.slice(0, key.indexOf('/')))));
}

/**
 * limit keeps its bucket in the rule instance too (xt_limit.c limit_mt_check: `info->master`, full at
 * checkentry; nft_limit likewise per expression): the buckets of rules of `tables` start full again.
 * hashlimit and recent keep theirs by name across the replace (htable_find_get, recent_table_lookup:
 * the new rule finds the old table before the old rule lets go of it). Measured with iptables 1.8.9:
 * after `-I INPUT 1` a spent `limit` rule passes again on legacy and not on nft; recent, hashlimit keep.
 */
function restartLimits(tokens: Map<string, number>, tables: Iterable<string>): void {
  for (const t of tables) for (const k of [...tokens.keys()]) if (k.startsWith(`limit:${t}/`)) tokens.delete(k);
}
