// The elements nft rules put in named sets, as a host's state across packets (spec/nft.md §8): `update @s { k }`
// and `add @s { k }` (net/netfilter/nft_dynset.c nft_dynset_eval) insert the key (`delete @s { k }` marks it
// dead), with the statement's timeout or else the set's (nft_dynset_new), while the set has room (`size`);
// `update` on an element that is there restarts its timeout, `add` leaves it. An element whose time is up is
// absent to lookups (nft_set_hash.c nft_rhash_cmp / nft_set_elem_expired: expired once jiffies reach its
// expiration). Time in a case is what its `wait` steps say; the kernel's clock runs at least as far, and further
// by what the probes took: the model takes that to be at most EXPIRY_MARGIN_S, and PROBE_SLACK_S for each probe
// since the element was set (a dropped probe waits for its timeout and its confirmation, 0.75 s by default:
// src/lab). So an element is surely there while more than the margin is left, surely gone once no time is left,
// and in between whether it is there is a question both answers of which are followed (spec/semantics.md §10,
// spec/nft.md §8).
import type { HostState, NftDynEntry } from '../eval/packet.ts';
import type { Atom, NftSet, NftTable } from './types.ts';
import type { DynUpdate } from './eval.ts';

/** How much longer than the case's waits the kernel's clock may have run (seconds), and how much more each probe
 *  since the element was set adds. */
export const EXPIRY_MARGIN_S = 0.5;
export const PROBE_SLACK_S = 1;

export type Life = 'present' | 'gone' | 'unknown';

export const setStateKey = (t: NftTable, set: string) => `${t.family} ${t.name} ${set}`;
/** A `numgen inc` counter's key in the host's state (HostState.nftInc): its table, then eval.ts numgenKey. */
export const incStateKey = (t: NftTable, key: string) => `${t.family} ${t.name}\0${key}`;
export const keyText = (key: readonly Atom[]) => JSON.stringify(key);

/** Whether an element that expires at `expires` (world seconds; undefined: never) is there at `now`, `probes`
 *  probes after it was set. */
export function lifeAt(expires: number | undefined, now: number, probes: number): Life {
  if (expires === undefined) return 'present';
  const left = expires - now;
  if (left <= 0) return 'gone';
  return left > EXPIRY_MARGIN_S + PROBE_SLACK_S * Math.max(0, probes) ? 'present' : 'unknown';
}

/** The margin, for messages. */
export const marginAfter = (probes: number): number => EXPIRY_MARGIN_S + PROBE_SLACK_S * Math.max(0, probes);

/** A loaded element's expiry: its time left (or its timeout, or the set's) from the start of the case. */
export function loadedExpiry(set: NftSet, el: { timeout?: number; expires?: number }): number | undefined {
  const ms = el.expires ?? el.timeout ?? (set.timeoutFlag ? set.timeout : undefined);
  return ms === undefined ? undefined : ms / 1000;
}

/** Is the key in the set at `now` (after `probe` probes): what rules added (that decides when there is one),
 *  else what was loaded. */
export function setLife(
  st: HostState,
  t: NftTable,
  set: NftSet,
  key: readonly Atom[],
  now: number,
  probe: number,
): { life: Life; probes: number } {
  const added = st.nftSets.get(setStateKey(t, set.name))?.get(keyText(key));
  if (added?.dead !== undefined) return { life: 'gone', probes: probe - added.probe };
  if (added) return { life: lifeAt(added.expires, now, probe - added.probe), probes: probe - added.probe };
  const k = keyText(key);
  const el = set.elements.find((e) => keyText(e.key.map((v) => (v.kind === 'value' ? v.v : NaN))) === k);
  return { life: el ? lifeAt(loadedExpiry(set, el), now, probe) : 'gone', probes: probe };
}

/** The value a data map holds for a key that is there: what a rule gave it, else the loaded element's. */
export function setData(st: HostState, t: NftTable, set: NftSet, key: readonly Atom[]): Atom[] | undefined {
  const k = keyText(key);
  const added = st.nftSets.get(setStateKey(t, set.name))?.get(k);
  if (added && added.dead === undefined) return added.data;
  return set.elements.find((e) => keyText(e.key.map((v) => (v.kind === 'value' ? v.v : NaN))) === k)?.data;
}

/** How long after an element expired or was deleted the set's count may still hold it (seconds): the hash
 *  backend's garbage collector runs every second (nft_set_gc_interval: HZ without gc-interval) as deferrable
 *  work; the probes' own time is added as for expiry. */
export const GC_SLACK_S = 1;

/** How many elements the set's count (nft_set nelems, what `size` limits) holds now: `sure` surely, `maybe` at
 *  most. An expired or deleted element leaves the count only when the garbage collector takes it. */
export function setCount(
  st: HostState,
  t: NftTable,
  set: NftSet,
  now: number,
  probe: number,
): { sure: number; maybe: number } {
  const added = st.nftSets.get(setStateKey(t, set.name)) ?? new Map<string, NftDynEntry>();
  let sure = 0;
  let maybe = 0;
  const count = (life: Life, goneAt: number | undefined, probes: number) => {
    if (life === 'present') sure++;
    if (life !== 'gone' || goneAt === undefined || now - goneAt < GC_SLACK_S + marginAfter(probes)) maybe++;
  };
  for (const e of added.values()) {
    const probes = probe - e.probe;
    if (e.dead !== undefined) count('gone', e.dead, probes);
    else count(lifeAt(e.expires, now, probes), e.expires, probes);
  }
  for (const el of set.elements) {
    const k = keyText(el.key.map((v) => (v.kind === 'value' ? v.v : NaN)));
    if (added.has(k)) continue;
    count(lifeAt(loadedExpiry(set, el), now, probe), loadedExpiry(set, el), probe);
  }
  return { sure, maybe };
}

/** Applies a packet's add/update/delete statements. `has` answers whether an element an `add` finds is still there. */
export function applyUpdates(
  st: HostState,
  t: NftTable,
  updates: readonly DynUpdate[],
  now: number,
  probe: number,
  has: (set: NftSet, u: DynUpdate) => boolean,
): void {
  for (const u of updates) {
    const set = t.sets.get(u.set);
    if (!set) continue;
    const sk = setStateKey(t, u.set);
    let m = st.nftSets.get(sk);
    if (!m) st.nftSets.set(sk, (m = new Map()));
    if (u.op === 'delete') {
      // nft_rhash_delete marks the element dead; one that is not there is left alone
      if (has(set, u)) m.set(keyText(u.key), { key: [...u.key], probe, dead: now });
      continue;
    }
    // (whether it is there is asked only where it matters: an add, or a data map's value)
    const there = u.op === 'add' || set.map ? has(set, u) : false;
    if (u.op === 'add' && there) continue;
    const ms = u.timeout ?? (set.timeoutFlag ? set.timeout : undefined);
    const e: NftDynEntry = ms ? { key: [...u.key], expires: now + ms / 1000, probe } : { key: [...u.key], probe };
    // an element that is there keeps its value (an update restarts its timeout only); a new one takes the rule's
    const data = !set.map ? undefined : there ? setData(st, t, set, u.key) : u.data;
    if (data) e.data = [...data];
    m.set(keyText(u.key), e);
  }
}
