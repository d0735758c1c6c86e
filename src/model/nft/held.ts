// Which named sets and maps hold state the packet path changes (spec/nft.md §8): those with "flags dynamic" or
// timeouts, and a data map a rule's `update`/`add` names, which nft 1.0.6 lists without "flags dynamic"
// (measured: `update @m { ip saddr : 0x5 }` fills it, lookups find what it added, `delete element` takes it).
import type { NftSet, NftTable } from './types.ts';
import { isDataMap } from './types.ts';

const filled = new WeakMap<NftTable, Set<string>>();

/** The sets a rule of the table adds to; cached per table object for the packet path (`fresh`: a transaction,
 *  which changes its own copy in place, reads it anew). */
function filledBy(t: NftTable, fresh: boolean): Set<string> {
  let names = fresh ? undefined : filled.get(t);
  if (!names) {
    names = new Set();
    for (const c of t.chains.values())
      for (const r of c.rules) for (const s of r.stmts) if (s.k === 'dynset') names.add(s.set);
    if (!fresh) filled.set(t, names);
  }
  return names;
}

export function rulesChange(t: NftTable, set: NftSet, fresh = false): boolean {
  return !!(set.dynamic || set.timeoutFlag) || (isDataMap(set) && filledBy(t, fresh).has(set.name));
}
