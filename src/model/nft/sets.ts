// Set elements as nft lists them (spec/nft.md §5): intervals sorted by their start, merged in
// anonymous sets (nft's auto-merge, src/intervals.c), printed as a value, a prefix or a range;
// other elements in nft 1.0.6's sort order (src/mergesort.c, datatypes.ts sortKey).
import { DTYPES, sortKey, compareKeys } from './datatypes.ts';
import type { Element, Value, DtypeName, Atom } from './types.ts';

export function sameValue(a: Value, b: Value): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function valueBounds(v: Value): [number, number] | undefined {
  switch (v.kind) {
    case 'value':
      return typeof v.v === 'number' ? [v.v, v.v] : undefined;
    case 'prefix': {
      const host = v.len === 0 ? 0xffffffff : (0xffffffff >>> v.len) >>> 0;
      return [v.v, (v.v | host) >>> 0];
    }
    case 'range':
      return [v.lo, v.hi];
    case 'flags':
      return [v.v, v.v];
  }
}

/** An interval as nft prints it: one value, an aligned prefix (addresses), or a range. */
export function intervalValue(lo: number, hi: number, dtype: DtypeName): Value {
  if (lo === hi) return { kind: 'value', v: lo };
  if (DTYPES[dtype].prefix) {
    const size = hi - lo + 1;
    const len = 32 - Math.log2(size);
    if (Number.isInteger(len) && lo % size === 0) return { kind: 'prefix', v: lo, len };
  }
  return { kind: 'range', lo, hi };
}

function firstAtom(v: Value): Atom {
  return v.kind === 'value' ? v.v : v.kind === 'prefix' ? v.v : v.kind === 'range' ? v.lo : v.v;
}

export interface Canonical {
  elements: Element[];
  /** two intervals overlap (refused in a named set without auto-merge) */
  overlap: boolean;
}

export function canonicalElements(
  els: readonly Element[],
  key: readonly DtypeName[],
  autoMerge: boolean,
  /** a named set with "flags interval": the kernel's interval tree lists strings in byte order */
  intervalSet = false,
): Canonical {
  const dts = key.map((k) => DTYPES[k]);
  const interval = key.length === 1 && els.some((e) => e.key[0]!.kind === 'prefix' || e.key[0]!.kind === 'range');
  if (interval) {
    const items = els
      .map((e) => ({ b: valueBounds(e.key[0]!)!, verdict: e.verdict, data: e.data, el: e }))
      .sort((a, b) => a.b[0] - b.b[0] || a.b[1] - b.b[1]);
    let overlap = false;
    const out: { lo: number; hi: number; verdict: Element['verdict']; data: Element['data']; el: Element }[] = [];
    for (const it of items) {
      const last = out.at(-1);
      if (last && it.b[0] <= last.hi) {
        if (!(it.b[0] === last.lo && it.b[1] === last.hi)) overlap = true;
        if (autoMerge && !it.verdict && !it.data) last.hi = Math.max(last.hi, it.b[1]);
        continue;
      }
      if (autoMerge && !it.verdict && !it.data && last && !last.verdict && !last.data && it.b[0] === last.hi + 1) {
        last.hi = it.b[1];
        continue;
      }
      out.push({ lo: it.b[0], hi: it.b[1], verdict: it.verdict, data: it.data, el: it.el });
    }
    return {
      overlap,
      elements: out.map((o) => {
        const e: Element = { key: [intervalValue(o.lo, o.hi, key[0]!)] };
        if (o.verdict) e.verdict = o.verdict;
        if (o.data) e.data = o.data;
        if (o.el.dataHi) e.dataHi = o.el.dataHi;
        // an element's own options stay with it (a named interval set's comments, timeouts: measured)
        if (o.el.timeout !== undefined) e.timeout = o.el.timeout;
        if (o.el.expires !== undefined) e.expires = o.el.expires;
        if (o.el.comment !== undefined) e.comment = o.el.comment;
        return e;
      }),
    };
  }
  const seen = new Set<string>();
  const uniq = els.filter((e) => {
    const k = JSON.stringify(e.key);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (intervalSet && key.length === 1 && uniq.some((e) => typeof firstAtom(e.key[0]!) === 'string')) {
    const str = (e: Element) => String(firstAtom(e.key[0]!));
    return { overlap: false, elements: [...uniq].sort((a, b) => (str(a) < str(b) ? -1 : str(a) > str(b) ? 1 : 0)) };
  }
  const keyed = uniq.map((e) => ({ e, k: sortKey(dts, e.key.map(firstAtom)) }));
  keyed.sort((a, b) => compareKeys(a.k, b.k));
  return { overlap: false, elements: keyed.map((x) => x.e) };
}
