// What the commands a case may run between probes do to the model's state: `conntrack -F`,
// `conntrack -D` with filters, and writes to /proc/net/xt_recent/LIST (spec/case-file.md).
import type { U32 } from './ip.ts';
import type { World } from './lab-model.ts';
import { remove, entriesOf, type CtEntry, type Tuple } from './conntrack.ts';
import { printRuleSpec } from './rules/print.ts';
import type { Ruleset, TableName, IptablesFlavor } from './rules/types.ts';

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
  else l.set(op.add, [...(l.get(op.add) ?? []), world.now].slice(-20));
}

/**
 * Per-rule state (statistic nth counters, keyed table/chain/position) across one iptables command.
 * iptables-legacy replaces the whole table the command names, so every rule of a changed table starts
 * afresh (xt_statistic's checkentry gives each entry a new master counter); iptables-nft adds, replaces or
 * deletes single rules, so a rule that stays keeps its counter wherever it now stands. Rules are followed by
 * their printed text, chain by chain (a longest common subsequence), so `-I`, `-D` and `-R` shift the
 * counters as the kernel's rule objects move.
 */
export function carryRuleState(
  world: World,
  host: string,
  before: Ruleset,
  after: Ruleset,
  flavor: IptablesFlavor,
): void {
  const st = world.hosts.get(host);
  if (!st || st.nth.size === 0) return;
  const texts = (rs: Ruleset, table: string, chain: string): string[] =>
    rs.tables
      .get(table as TableName)
      ?.chains.get(chain)
      ?.rules.map(printRuleSpec) ?? [];
  const tableText = (rs: Ruleset, table: string): string =>
    [...(rs.tables.get(table as TableName)?.chains.values() ?? [])]
      .map((c) => `${c.name}\n${c.rules.map(printRuleSpec).join('\n')}`)
      .join('\n\n');
  // legacy: whether each table the counters live in changed (once per table, not once per counter)
  const changed = new Map<string, boolean>();
  const tableChanged = (table: string): boolean =>
    changed.get(table) ?? changed.set(table, tableText(before, table) !== tableText(after, table)).get(table)!;
  const moved = new Map<string, Map<number, number>>();
  const next = new Map<string, number>();
  for (const [key, count] of st.nth) {
    const first = key.indexOf('/');
    const last = key.lastIndexOf('/');
    const table = key.slice(0, first);
    const chain = key.slice(first + 1, last);
    const index = Number(key.slice(last + 1));
    if (flavor === 'legacy') {
      if (!tableChanged(table)) next.set(key, count);
      continue;
    }
    const ck = `${table}/${chain}`;
    let map = moved.get(ck);
    if (!map) moved.set(ck, (map = alignRules(texts(before, table, chain), texts(after, table, chain))));
    const to = map.get(index);
    if (to !== undefined) next.set(`${ck}/${to}`, count);
  }
  st.nth = next;
}

/** Old position -> new position (both from 1) of the rules a longest common subsequence keeps. */
function alignRules(a: readonly string[], b: readonly string[]): Map<number, number> {
  const n = a.length;
  const m = b.length;
  const len: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      len[i]![j] = a[i] === b[j] ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
  const out = new Map<number, number>();
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.set(++i, ++j);
    else if (len[i + 1]![j]! >= len[i]![j + 1]!) i++;
    else j++;
  }
  return out;
}

/** The world after nft text was applied on a host: the elements rules had put in the sets it renewed (deleted,
 *  flushed, or all without `renewed`) are gone with them (spec/nft.md §8, dyn-state.ts setsRenewedBy). */
export function withoutNftSets(world: World, host: string, renewed: (stateKey: string) => boolean = () => true): World {
  const st = world.hosts.get(host);
  if (!st || ![...st.nftSets.keys()].some(renewed)) return world;
  const hosts = new Map(world.hosts);
  hosts.set(host, { ...st, nftSets: new Map([...st.nftSets].filter(([k]) => !renewed(k))) });
  return { ...world, hosts };
}
