// Two kernel runs of the same cases compared with each other, not with the model: iptables-nft against
// iptables-legacy, the Docker lab against the netns lab, or a reused lab against fresh ones. Only what is not left
// to chance or to time is compared: steps where the model sees one exact possibility, ports the kernel picks at
// random masked (ephemeral ports, MASQUERADE --random-fully), and conntrack tables until a case's first random
// step or its first TCP entry whose state retransmissions may still move (spec/observation.md: the lab reads the
// table when it can, so two runs may catch the same close at different states).
import type { Observation } from '../model/index.ts';
import type { CaseReport } from './run-case.ts';

export interface ComparableRecord {
  outcome: Observation['outcome'];
  responder: string | null;
  seen: { src: string; dst: string } | null;
  icmp: string | null;
  replyFrom: string | null;
  /** the error record, ports of its quoted header masked */
  error: Observation['error'];
  conntrack?: Record<string, string[]>;
}

/** ports and ICMP echo ids (a probe's source port) masked: two runs may hand out different ones */
const addrsOnly = (t: string) => t.replace(/:\d+/g, '').replace(/ id=\d+/g, '');
const ctAddrs = (x: Observation['conntrack']) =>
  Object.fromEntries(
    Object.entries(x)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([h, l]) => [
        h,
        l
          .map((e) => `${e.proto} ${addrsOnly(e.orig)} / ${addrsOnly(e.reply)} ${e.state ?? ''} ${e.flags.join(',')}`)
          .sort(),
      ]),
  );

/** "case / step #repetition" -> what the kernel observed, for the comparable steps. */
export function comparableRecords(reports: readonly CaseReport[]): Map<string, ComparableRecord> {
  const out = new Map<string, ComparableRecord>();
  for (const r of reports) {
    let chance = false;
    for (const s of r.steps) {
      if (!s.kernel.length) continue;
      // a chance, or an open result where only the kernel's clock decides (neighbour timers, resent SYN-ACKs)
      if (s.model.some((d) => d.length !== 1 || d[0]?.value.outcome === 'indeterminate')) {
        chance = true;
        continue;
      }
      s.kernel.forEach((k, i) => {
        const expected = s.model[i]?.[0]?.value;
        if (expected && Object.values(expected.conntrack).some((l) => l.some((e) => e.moves?.length))) chance = true;
        out.set(`${r.name} / ${s.label} #${(s.shown?.[i] ?? i) + 1}`, {
          outcome: k.outcome,
          responder: k.responder,
          icmp: k.icmp,
          replyFrom: k.replyFrom,
          error: k.error ? { ...k.error, quoted: k.error.quoted === null ? null : addrsOnly(k.error.quoted) } : null,
          seen: k.seen ? { src: addrsOnly(k.seen.src), dst: k.seen.dst } : null,
          ...(chance ? {} : { conntrack: ctAddrs(k.conntrack) }),
        });
      });
    }
  }
  return out;
}

export interface CrossDiff {
  step: string;
  a: ComparableRecord | undefined;
  b: ComparableRecord | undefined;
}

/** Steps where the two runs observed different things (or only one of them ran the step). */
export function crossDiffs(
  a: readonly CaseReport[],
  b: readonly CaseReport[],
): { compared: number; diffs: CrossDiff[] } {
  const ra = comparableRecords(a);
  const rb = comparableRecords(b);
  const diffs: CrossDiff[] = [];
  for (const step of new Set([...ra.keys(), ...rb.keys()])) {
    const x = ra.get(step);
    const y = rb.get(step);
    if (JSON.stringify(x) !== JSON.stringify(y)) diffs.push({ step, a: x, b: y });
  }
  return { compared: ra.size, diffs };
}
