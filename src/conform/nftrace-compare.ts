// The kernel's nft rule trace against the model's, rule by rule (spec/nft.md §7): both as segments, one per
// base chain a packet went through, with the rules that ran to their end (by handle) and the policy if it
// decided. Compared per host as sets: the kernel traces every packet of an exchange (retransmissions, FINs),
// the model the packets it plays, and those repeat the same segments.
import type { TraceEvent } from '../model/index.ts';
import { segmentText, type TraceSegment } from '../lab/nftrace.ts';

/** The nft segments of a model trace, per host. */
export function modelSegments(trace: readonly TraceEvent[]): Map<string, TraceSegment[]> {
  const out = new Map<string, TraceSegment[]>();
  let cur: { host: string; seg: TraceSegment } | undefined;
  for (const e of trace) {
    if (e.kind !== 'rule' || e.base === undefined) {
      if (e.kind === 'hook' || e.kind === 'stage') cur = undefined;
      continue;
    }
    if (!cur || cur.host !== e.host || cur.seg.table !== e.table || cur.seg.base !== e.base) {
      cur = { host: e.host, seg: { table: e.table, base: e.base, rules: [] } };
      out.set(e.host, [...(out.get(e.host) ?? []), cur.seg]);
    }
    if (e.rule === 'policy') cur.seg.policy = e.action;
    else if (e.handle !== undefined) cur.seg.rules.push({ chain: e.chain, handle: e.handle });
  }
  return out;
}

export interface NftraceDiff {
  host: string;
  /** segments only one side shows */
  modelOnly: string[];
  kernelOnly: string[];
}

/**
 * Per traced host: the distinct segments of the model's trace against the kernel's, the kernel's kept to the
 * tables in `tables` (the host's native nft tables: iptables-nft's chains are traced by the kernel too).
 */
export function compareNftrace(
  model: readonly TraceEvent[],
  kernel: Record<string, TraceSegment[]>,
  tables: (host: string) => ReadonlySet<string>,
): { compared: number; diffs: NftraceDiff[] } {
  const ms = modelSegments(model);
  const diffs: NftraceDiff[] = [];
  let compared = 0;
  for (const [host, segs] of Object.entries(kernel)) {
    const keep = tables(host);
    const k = new Set(segs.filter((s) => keep.has(s.table)).map(segmentText));
    const m = new Set((ms.get(host) ?? []).filter((s) => keep.has(s.table)).map(segmentText));
    compared += k.size;
    const modelOnly = [...m].filter((x) => !k.has(x));
    const kernelOnly = [...k].filter((x) => !m.has(x));
    if (modelOnly.length || kernelOnly.length) diffs.push({ host, modelOnly, kernelOnly });
  }
  return { compared, diffs };
}
