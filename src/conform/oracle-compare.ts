// Comparing what a backend observed with what the Service-level oracle says
// (spec/kube.md §4): outcome, responder and whether the client's address was kept.
import type { Observation, Weighted } from '../model/index.ts';
import type { OracleResult } from '../kube/oracle.ts';

type Judged = Pick<OracleResult, 'outcome' | 'responder' | 'sourceKept'>;

const keyOf = (r: Judged) => {
  const o = r.outcome === 'delivered' ? r : { outcome: r.outcome, responder: r.responder };
  const source = o.sourceKept === undefined ? '' : o.sourceKept ? ' kept' : ' masqueraded';
  return `${o.outcome} ${o.responder ?? '-'}${source}`;
};

/** Kept: the server saw the client's own address and port (a masquerade that happens to keep the address still picks a
 * port). */
function asOracle(o: Observation, src: string, sport: number | undefined): Judged {
  const outcome = o.outcome === 'delivered' || o.outcome === 'refused' ? o.outcome : 'dropped';
  return { outcome, responder: o.responder, ...(o.seen ? { sourceKept: o.seen.src === `${src}:${sport}` } : {}) };
}

export function expectedOf(want: readonly OracleResult[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of want) m.set(keyOf(r), (m.get(keyOf(r)) ?? 0) + r.p);
  return m;
}

export const showDistribution = (m: Map<string, number>) =>
  [...m].map(([k, p]) => `${k} (p=${p.toFixed(3)})`).join(', ');

/** The model's distribution must be the oracle's (with affinity: the same possibilities). A miss, or undefined. */
export function modelMiss(
  want: readonly OracleResult[],
  dist: readonly Weighted<Observation>[],
  src: string,
  sport: number | undefined,
): string | undefined {
  const expected = expectedOf(want);
  const got = new Map<string, number>();
  for (const m of dist) {
    const k = keyOf(asOracle(m.value, src, sport));
    got.set(k, (got.get(k) ?? 0) + m.p);
  }
  // with session affinity only the possibilities are compared: later connections stick to the first choice
  const same = want.some((w) => w.affinity)
    ? [...got.keys()].every((k) => expected.has(k))
    : got.size === expected.size && [...got].every(([k, p]) => Math.abs((expected.get(k) ?? -1) - p) < 1e-9);
  return same ? undefined : `model: ${showDistribution(got)}; the Services say: ${showDistribution(expected)}`;
}

/** A kernel observation must be one of the oracle's results. A miss, or undefined. */
export function kernelMiss(
  want: readonly OracleResult[],
  k: Observation,
  src: string,
  sport: number | undefined,
): string | undefined {
  const expected = expectedOf(want);
  const key = keyOf(asOracle(k, src, sport));
  return expected.has(key) ? undefined : `kernel: ${key}; the Services say: ${showDistribution(expected)}`;
}

/** The first of the model's possibilities the oracle does not allow (the branch worth explaining), or -1. */
export function unexpectedBranch(
  want: readonly OracleResult[],
  dist: readonly Weighted<Observation>[],
  src: string,
  sport: number | undefined,
): number {
  const expected = expectedOf(want);
  return dist.findIndex((m) => !expected.has(keyOf(asOracle(m.value, src, sport))));
}
