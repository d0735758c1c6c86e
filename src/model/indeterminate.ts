// Three-valued results (spec/semantics.md §10): a probe that reached rules the model cannot evaluate was
// played once per answer of each (probe.ts enumerates them like statistic's branches). This folds those
// branches back: where both answers of an unknown rule lead to the same result, the rule did not matter
// and the result is exact; where they differ, the result is `indeterminate`, listing the possible
// observations and the rules that decide. Probabilistic branches keep their exact probabilities.
import type { ExactOutcome, Observation, UnknownRule, Weighted } from './observation.ts';
import type { World } from './lab-model.ts';
import { entriesOf, tupleKey } from './conntrack.ts';
import type { HostState } from './eval/packet.ts';

/** One decision a branch took: a probabilistic one (statistic, NAT) or an answer to an unknown rule. */
export type Decision =
  { kind: 'chance'; p: number; taken: boolean } | { kind: 'unknown'; rule: UnknownRule; taken: boolean };

/** What the fold needs of one played branch. */
export interface Played<R> {
  decisions: readonly Decision[];
  run: R;
  observation: Observation;
  world: World;
}

/** Every outcome a probe of this protocol can have: what an open branch (fate unknown) may end in. */
export function outcomesFor(proto: number): ExactOutcome[] {
  return proto === 1
    ? ['dropped', 'echo-reply', 'icmp-error', 'refused']
    : ['delivered', 'dropped', 'icmp-error', 'refused'];
}

/** The observation of a branch whose packet an unmodelled target took (spec/observation.md). */
export function openObservation(proto: number, rule: UnknownRule): Observation {
  return emptyIndeterminate({ outcomes: outcomesFor(proto), decidedBy: [rule], possible: [], open: true });
}

function emptyIndeterminate(ind: NonNullable<Observation['indeterminate']>): Observation {
  return {
    outcome: 'indeterminate',
    responder: null,
    replyFrom: null,
    error: null,
    seen: null,
    icmp: null,
    conntrack: {},
    droppedAt: null,
    indeterminate: ind,
  };
}

/** An indeterminate group: the branches it stands for, and the rules whose answer made them differ. */
interface Group<R> {
  branches: Played<R>[];
  decidedBy: UnknownRule[];
}

type Item<R> = { p: number; exact: Played<R> } | { p: number; group: Group<R> };

type Node<R> =
  | { t: 'leaf'; b: Played<R> }
  | { t: 'chance'; p: number; yes: Node<R>; no: Node<R> }
  | { t: 'unknown'; rule: UnknownRule; yes: Node<R>; no: Node<R> };

/** The decision tree the branches were enumerated from (each decision was followed both ways). */
function build<R>(bs: readonly Played<R>[], depth: number): Node<R> {
  const first = bs[0]!;
  const d = first.decisions[depth];
  if (!d) {
    if (bs.length !== 1) throw new Error('internal: branches share all their decisions');
    return { t: 'leaf', b: first };
  }
  const yes = bs.filter((b) => b.decisions[depth]!.taken);
  const no = bs.filter((b) => !b.decisions[depth]!.taken);
  if (!yes.length || !no.length) throw new Error('internal: a decision was followed one way only');
  const y = build(yes, depth + 1);
  const n = build(no, depth + 1);
  return d.kind === 'chance' ? { t: 'chance', p: d.p, yes: y, no: n } : { t: 'unknown', rule: d.rule, yes: y, no: n };
}

const ruleKey = (r: UnknownRule) => `${r.host}\0${r.table}\0${r.chain}\0${r.rule}`;

function addRules(into: UnknownRule[], more: readonly UnknownRule[]): void {
  for (const r of more) if (!into.some((x) => ruleKey(x) === ruleKey(r))) into.push(r);
}

/** What a later step could tell apart: the observation and the state it leaves (conntrack entries with
 *  their marks, recent lists, nth counters, token buckets, nft set elements and numgen counters, ip_error's
 *  buckets), without entry ids. */
function fingerprint<R>(b: Played<R>): string {
  const hosts = [...b.world.hosts].map(([h, s]) => [
    h,
    entriesOf(s.ct)
      .sort((a, b) => (tupleKey(a.orig) < tupleKey(b.orig) ? -1 : 1))
      .map(({ id: _id, ...e }) => e),
    ...ruleCounters(s),
    [...s.routeErrors],
    [...s.redirects],
    [...s.exceptions],
    [...s.neighbours],
  ]);
  // a resent SYN-ACK played or still to come (synack-rtx.ts)
  const rtx = (b.world.synAcks ?? []).map((x) => [x.server, tupleKey(x.pkt), x.at, x.sent]);
  return JSON.stringify([b.observation, hosts, rtx]);
}

/** The state every later packet that meets the same rule reads, whatever its connection: rule counters and
 *  buckets (recent lists, nth counters, token buckets, nft sets and numgen counters). A connection's own state
 *  (conntrack entries, neighbour entries, resent SYN-ACKs) is left out: a later probe is a new connection. */
function counters<R>(b: Played<R>): string {
  return JSON.stringify([...b.world.hosts].map(([h, s]) => [h, ...ruleCounters(s)]));
}

/** A host's rule counters and buckets, in a form JSON can compare. */
function ruleCounters(s: HostState): unknown[] {
  return [
    [...s.recent].map(([n, m]) => [n, [...m]]),
    [...s.nth],
    [...s.tokens],
    [...s.nftSets].map(([n, m]) => [n, [...m]]),
    [...s.nftInc],
  ];
}

/** The same distribution of exact results (the unknown rule's answer did not matter)? */
function sameExact<R>(a: readonly Item<R>[], b: readonly Item<R>[]): boolean {
  const dist = (xs: readonly Item<R>[]) => {
    const m = new Map<string, number>();
    for (const x of xs) {
      if (!('exact' in x)) return undefined;
      const k = fingerprint(x.exact);
      m.set(k, (m.get(k) ?? 0) + x.p);
    }
    return m;
  };
  const da = dist(a);
  const db = dist(b);
  if (!da || !db || da.size !== db.size) return false;
  for (const [k, p] of da) if (Math.abs((db.get(k) ?? -1) - p) > 1e-12) return false;
  return true;
}

function fold<R>(n: Node<R>): Item<R>[] {
  if (n.t === 'leaf') {
    const ind = n.b.observation.indeterminate;
    return [ind ? { p: 1, group: { branches: [n.b], decidedBy: [...ind.decidedBy] } } : { p: 1, exact: n.b }];
  }
  const yes = fold(n.yes);
  const no = fold(n.no);
  if (n.t === 'chance')
    return [...yes.map((x) => ({ ...x, p: x.p * n.p })), ...no.map((x) => ({ ...x, p: x.p * (1 - n.p) }))];
  if (sameExact(yes, no)) return yes;
  // the answer matters: one indeterminate result standing for every branch below
  const branches: Played<R>[] = [];
  const decidedBy: UnknownRule[] = [n.rule];
  for (const x of [...yes, ...no]) {
    if ('exact' in x) branches.push(x.exact);
    else {
      branches.push(...x.group.branches);
      addRules(decidedBy, x.group.decidedBy);
    }
  }
  return [{ p: 1, group: { branches, decidedBy } }];
}

/**
 * The indeterminate result of a group, and its distinct branches (aligned with `possible`). A later step continues
 * from the branch whose observation the kernel made (paired-lab.ts); where branches with that observation left
 * different rule counters (a resent SYN-ACK that an nth rule counted or not: seed 20261316), the kernel's answer
 * does not say which one it took, so the branch kept stands for all of them with every later result open
 * (World.unfollowed). Branches that differ only in their own connection's state are not told apart (a later probe
 * is another connection): the first is followed, as before.
 */
function groupResult<R>(g: Group<R>): { observation: Observation; branches: Played<R>[] } {
  const seen = new Map<string, { b: Played<R>; state: string; split: boolean }>();
  for (const b of g.branches) {
    const k = JSON.stringify(b.observation);
    const state = counters(b);
    const s = seen.get(k);
    if (!s) seen.set(k, { b, state, split: false });
    else if (s.state !== state) s.split = true;
  }
  const branches = [...seen.values()].map(({ b, split }) =>
    split && g.decidedBy[0] ? { ...b, world: { ...b.world, unfollowed: b.world.unfollowed ?? g.decidedBy[0] } } : b,
  );
  const outcomes = new Set<ExactOutcome>();
  let open = false;
  for (const b of branches) {
    const ind = b.observation.indeterminate;
    if (ind) {
      open ||= ind.open;
      for (const o of ind.outcomes) outcomes.add(o);
    } else if (b.observation.outcome !== 'indeterminate') outcomes.add(b.observation.outcome);
  }
  return {
    observation: emptyIndeterminate({
      outcomes: [...outcomes].sort(),
      decidedBy: g.decidedBy,
      possible: branches.map((b) => b.observation),
      open,
    }),
    branches,
  };
}

/** A folded result: an exact branch, or an indeterminate one with the branches behind it. */
export interface Folded<R> {
  observation: Observation;
  /** the branch to show and continue from: the exact one, or the first of an indeterminate group */
  head: Played<R>;
  /** indeterminate only: one branch per entry of `observation.indeterminate.possible` */
  branches?: Played<R>[];
}

/** The probe's results: exact ones with their probabilities, indeterminate ones where unknown rules decide. */
export function foldBranches<R>(played: readonly Played<R>[]): Weighted<Folded<R>>[] {
  const items = fold(build(played, 0));
  return items.map((x) => {
    if ('exact' in x) return { p: x.p, value: { observation: x.exact.observation, head: x.exact } };
    const g = groupResult(x.group);
    return { p: x.p, value: { observation: g.observation, head: g.branches[0]!, branches: g.branches } };
  });
}
