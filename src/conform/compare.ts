// When do a model prediction and a kernel observation agree? (spec/equivalence.md)
import type { Observation, Weighted, ConntrackRecord } from '../model/index.ts';

export interface FieldDiff {
  field: string;
  model: unknown;
  kernel: unknown;
}

/** "a.b.c.d:p" against "a.b.c.d:p" or a model range "a.b.c.d:lo-hi"; ICMP "id=N" is not compared (ping picks it). */
export function endpointAgrees(model: string, kernel: string): boolean {
  if (model === kernel) return true;
  const m = /^([\d.]+):(\d+)-(\d+)$/.exec(model);
  const k = /^([\d.]+):(\d+)$/.exec(kernel);
  if (m && k) return m[1] === k[1] && Number(k[2]) >= Number(m[2]) && Number(k[2]) <= Number(m[3]);
  return false;
}

function tupleAgrees(model: string, kernel: string): boolean {
  const strip = (s: string) => s.replace(/ id=\d+$/, '');
  const [ma, mb] = strip(model).split('>');
  const [ka, kb] = strip(kernel).split('>');
  return ma !== undefined && ka !== undefined && endpointAgrees(ma, ka) && endpointAgrees(mb ?? '', kb ?? '');
}

function recordAgrees(m: ConntrackRecord, k: ConntrackRecord): boolean {
  return (
    m.proto === k.proto &&
    tupleAgrees(m.orig, k.orig) &&
    tupleAgrees(m.reply, k.reply) &&
    // a TCP state the connection's retransmissions can reach by the time the lab reads it (spec/equivalence.md)
    (m.state === k.state || (k.state !== null && (m.moves?.includes(k.state) ?? false))) &&
    m.flags.join(',') === k.flags.join(',')
  );
}

/**
 * Can every model record be paired with its own kernel record? A perfect matching (augmenting paths), not a
 * greedy one: a model range ("a:1024-65535") may take a kernel record that only an exact model record fits
 * (a routing loop through a DNAT makes a chain of entries, each with its port remapped: regression
 * routing-loop-time-exceeded).
 */
function everyMatched(m: readonly ConntrackRecord[], k: readonly ConntrackRecord[]): boolean {
  const fits = m.map((r) => k.flatMap((x, i) => (recordAgrees(r, x) ? [i] : [])));
  const owner: (number | undefined)[] = k.map(() => undefined);
  const place = (mi: number, seen: Set<number>): boolean => {
    for (const ki of fits[mi]!) {
      if (seen.has(ki)) continue;
      seen.add(ki);
      const o = owner[ki];
      if (o === undefined || place(o, seen)) {
        owner[ki] = mi;
        return true;
      }
    }
    return false;
  };
  return m.every((_, mi) => place(mi, new Set()));
}

const ERROR_FIELDS = ['kind', 'from', 'type', 'code', 'quoted', 'errno'] as const;

export function compareObservation(model: Observation, kernel: Observation): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  if (model.outcome !== kernel.outcome) diffs.push({ field: 'outcome', model: model.outcome, kernel: kernel.outcome });
  if (model.responder !== kernel.responder)
    diffs.push({ field: 'responder', model: model.responder, kernel: kernel.responder });
  const ms = model.seen;
  const ks = kernel.seen;
  if (
    (ms === null) !== (ks === null) ||
    (ms && ks && (!endpointAgrees(ms.src, ks.src) || !endpointAgrees(ms.dst, ks.dst)))
  ) {
    diffs.push({ field: 'seen', model: ms, kernel: ks });
  }
  // the lab reads the ICMP error itself (a raw socket), not the errno class: the code is compared exactly
  if (model.icmp !== kernel.icmp) diffs.push({ field: 'icmp', model: model.icmp, kernel: kernel.icmp });
  if (model.replyFrom !== kernel.replyFrom)
    diffs.push({ field: 'replyFrom', model: model.replyFrom, kernel: kernel.replyFrom });
  const me = model.error;
  const ke = kernel.error;
  if ((me === null) !== (ke === null) || (me && ke && ERROR_FIELDS.some((f) => me[f] !== ke[f])))
    diffs.push({ field: 'error', model: me, kernel: ke });
  const hosts = new Set([...Object.keys(model.conntrack), ...Object.keys(kernel.conntrack)]);
  for (const h of [...hosts].sort()) {
    const m = model.conntrack[h] ?? [];
    const k = kernel.conntrack[h] ?? [];
    const ok = m.length === k.length && everyMatched(m, k);
    if (!ok) diffs.push({ field: `conntrack.${h}`, model: m, kernel: k });
  }
  // a model stand-in for the kernel (a mutant) may be indeterminate too: then what is open must be the same
  if (
    (model.indeterminate || kernel.indeterminate) &&
    JSON.stringify(model.indeterminate) !== JSON.stringify(kernel.indeterminate)
  )
    diffs.push({ field: 'indeterminate', model: model.indeterminate ?? null, kernel: kernel.indeterminate ?? null });
  const md = model.droppedAt;
  const kd = kernel.droppedAt;
  if (
    md &&
    kd &&
    md.table &&
    kd.table &&
    (md.host !== kd.host || md.table !== kd.table || md.chain !== kd.chain || md.rule !== kd.rule)
  ) {
    diffs.push({ field: 'droppedAt', model: md, kernel: kd });
  }
  return diffs;
}

export interface Verdict {
  /** the model possibility the kernel matched, if any */
  matched: Weighted<Observation> | undefined;
  /** differences to the closest possibility when none matched */
  diffs: FieldDiff[];
  /** the matched possibility is indeterminate (spec/semantics.md §10): the kernel's observation is that of
   *  its branch `branch` (an index into `indeterminate.possible`). An agreement, but not an exact one. */
  indeterminate?: { branch: number };
}

/** Differences of an indeterminate possibility's branch from the kernel: an exact branch is compared field by
 *  field; an open one (an unmodelled target took the packet) admits any observation with one of its outcomes. */
export function compareBranch(branch: Observation, kernel: Observation): FieldDiff[] {
  const ind = branch.indeterminate;
  if (!ind) return compareObservation(branch, kernel);
  return kernel.outcome !== 'indeterminate' && ind.outcomes.includes(kernel.outcome)
    ? []
    : [{ field: 'outcome', model: `one of ${ind.outcomes.join(', ')}`, kernel: kernel.outcome }];
}

/** The kernel's one observation must be one of the model's possibilities; for an indeterminate one, the
 *  observation of one of its branches. */
export function judge(model: readonly Weighted<Observation>[], kernel: Observation): Verdict {
  let best: FieldDiff[] | undefined;
  for (const m of model) {
    const ind = m.value.indeterminate;
    // only a model stands in for the kernel with an indeterminate observation (a mutant oracle): two models
    // are compared as they are
    if (ind && kernel.outcome !== 'indeterminate') {
      // an open result with no branches behind it (the packet's fate itself is unknown, as after a route
      // exception the model cannot date): any observation with one of its outcomes, and one world to go on from
      if (ind.open && ind.possible.length === 0) {
        const d = compareBranch(m.value, kernel);
        if (d.length === 0) return { matched: m, diffs: [] };
        if (!best || d.length < best.length) best = d;
        continue;
      }
      for (const [branch, b] of ind.possible.entries()) {
        const d = compareBranch(b, kernel);
        if (d.length === 0) return { matched: m, diffs: [], indeterminate: { branch } };
        if (!best || d.length < best.length) best = d;
      }
      continue;
    }
    const d = compareObservation(m.value, kernel);
    if (d.length === 0) return { matched: m, diffs: [] };
    if (!best || d.length < best.length) best = d;
  }
  return { matched: undefined, diffs: best ?? [{ field: 'outcome', model: 'nothing', kernel: kernel.outcome }] };
}
