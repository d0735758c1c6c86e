// `nft -f` on a host's current nft state mid-case (spec/nft.md §8.2): the nft step, and nft text an apply step
// gives. The elements rules put in a set (HostState.nftSets) are elements like the loaded ones to the transaction:
// `delete element` of a key traffic added works, of one that expired or a rule deleted is refused (ENOENT:
// nft_set_hash.c nft_rhash_cmp skips such elements, measured). Afterwards every element of a set rules change (or
// with timeouts) is the host's state with its expiry, whoever added it; a refused batch changes nothing but the
// handles the kernel took (apply.ts isKernelRefusal).
import { InputError } from '../errors.ts';
import type { HostState, NftDynEntry } from '../eval/packet.ts';
import { parseNft, lintNft, isKernelRefusal } from './apply.ts';
import { incStateKey, keyText, lifeAt, loadedExpiry, setStateKey, type Life } from './dyn-state.ts';
import { numgenKey } from './eval.ts';
import { rulesChange } from './held.ts';
import {
  emptyNftRuleset,
  isDataMap,
  type Atom,
  type Element,
  type NftRule,
  type NftRuleset,
  type NftSet,
  type NftTable,
} from './types.ts';

export type DynSets = HostState['nftSets'];

export interface NftTxOutcome {
  /** why it was refused (undefined: committed) */
  refusal: string | undefined;
  /** the host's nft state after it (refused: as before, with the handles the kernel took) */
  ruleset: NftRuleset;
  /** the host's set state after it */
  sets: DynSets;
  /** the host's `numgen inc` counters after it: those of the rules it left standing (a new rule, a recreated
   *  table's too, starts anew: nft_ng_inc_init) */
  inc: IncCounters;
}

export type IncCounters = HostState['nftInc'];

/** Each rule of the ruleset: the prefix of its numgen counters' keys (dyn-state.ts incStateKey, eval.ts numgenKey
 *  without the statement). */
function ruleIds(rs: NftRuleset): Map<NftRule, string> {
  const out = new Map<NftRule, string>();
  for (const t of rs.tables.values())
    for (const c of t.chains.values())
      for (const r of c.rules) out.set(r, incStateKey(t, numgenKey(c.name, r.handle, 0)).slice(0, -2));
  return out;
}

/** The counters of the rules that stood before (`before`: their objects, the ids they had) and still stand. */
function carriedInc(inc: IncCounters | undefined, before: Map<NftRule, string>, after: NftRuleset): IncCounters {
  const out: IncCounters = new Map();
  if (!inc?.size) return out;
  const kept = new Set<string>();
  for (const [r, id] of ruleIds(after)) if (before.get(r) === id) kept.add(id);
  for (const [k, v] of inc) if (kept.has(k.slice(0, k.lastIndexOf('\0')))) out.set(k, v);
  return out;
}

export interface NftTxAt {
  file: string;
  /** world seconds, and the probes played so far (dyn-state.ts lifeAt) */
  now: number;
  probes: number;
}

/** Sets and data maps whose elements are the host's state (as eval.ts reads them: setHas, setData); interval sets
 *  and verdict maps (eval.ts reads their elements) keep theirs. */
const held = (t: NftTable, s: NftSet) => rulesChange(t, s, true) && !s.interval && (!s.map || isDataMap(s));
const atomsOf = (el: Element): Atom[] => el.key.map((v) => (v.kind === 'value' ? v.v : NaN));

interface Materialized {
  rs: NftRuleset;
  /** where each element the transaction starts with came from (its entry, with its expiry) */
  origin: WeakMap<Element, NftDynEntry>;
  /** per set: entries that are gone (expired, deleted by a rule) but may still be counted until the collector */
  gone: WeakMap<NftSet, Map<string, NftDynEntry>>;
  /** some element's presence is a question (its time left is within the margin) */
  unsure: boolean;
}

/** The host's state as one ruleset: every element there now in its set; `assume` places the unsure ones. */
function materialize(base: NftRuleset | undefined, sets: DynSets | undefined, at: NftTxAt, assume: boolean) {
  const m: Materialized = {
    rs: base ? structuredClone(base) : emptyNftRuleset(),
    origin: new WeakMap(),
    gone: new WeakMap(),
    unsure: false,
  };
  for (const t of m.rs.tables.values())
    for (const s of t.sets.values()) {
      if (!held(t, s)) continue;
      const added = sets?.get(setStateKey(t, s.name)) ?? new Map<string, NftDynEntry>();
      const els: Element[] = [];
      const gone = new Map<string, NftDynEntry>();
      const put = (el: Element, e: NftDynEntry, life: Life) => {
        if (life === 'unknown') m.unsure = true;
        if (life === 'gone' || (life === 'unknown' && !assume)) gone.set(keyText(e.key), e);
        else (m.origin.set(el, e), els.push(el));
      };
      for (const el of s.elements) {
        const key = atomsOf(el);
        if (added.has(keyText(key))) continue; // what rules did to the key decides (dyn-state.ts setLife)
        const exp = loadedExpiry(s, el);
        const e: NftDynEntry = { key, probe: 0, ...(exp !== undefined ? { expires: exp } : {}) };
        if (el.data) e.data = [...el.data];
        put(el, e, lifeAt(exp, at.now, at.probes));
      }
      for (const e of added.values()) {
        const life = e.dead !== undefined ? 'gone' : lifeAt(e.expires, at.now, at.probes - e.probe);
        put({ key: e.key.map((v) => ({ kind: 'value', v })), ...(e.data ? { data: [...e.data] } : {}) }, e, life);
      }
      s.elements = els;
      m.gone.set(s, gone);
    }
  return m;
}

/** The committed state back into ruleset and set state: an element the transaction kept keeps its entry, one it
 *  added (or added again: a new timeout and expiry) starts now. */
function dematerialize(m: Materialized, at: NftTxAt): DynSets {
  const out: DynSets = new Map();
  for (const t of m.rs.tables.values())
    for (const s of t.sets.values()) {
      if (!held(t, s)) continue;
      const entries = new Map(m.gone.get(s) ?? []);
      for (const el of s.elements) {
        const key = atomsOf(el);
        const ms = el.expires ?? el.timeout ?? (s.timeoutFlag ? s.timeout : undefined);
        const fresh: NftDynEntry = {
          key,
          probe: at.probes,
          ...(ms ? { expires: at.now + ms / 1000 } : {}),
          ...(el.data ? { data: [...el.data] } : {}),
        };
        entries.set(keyText(key), m.origin.get(el) ?? fresh);
      }
      s.elements = [];
      if (entries.size) out.set(setStateKey(t, s.name), entries);
    }
  return out;
}

function attempt(
  base: NftRuleset | undefined,
  sets: DynSets | undefined,
  inc: IncCounters | undefined,
  text: string,
  at: NftTxAt,
  assume: boolean,
) {
  const m = materialize(base, sets, at, assume);
  // the transaction changes m.rs in place: a rule it leaves alone is the same object afterwards
  const before = ruleIds(m.rs);
  try {
    parseNft(text, { file: at.file, base: m.rs, inPlace: true });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { m, outcome: refused(base, sets, inc, text, at, assume, e) };
  }
  const outcome: NftTxOutcome = {
    refusal: undefined,
    ruleset: m.rs,
    sets: dematerialize(m, at),
    inc: carriedInc(inc, before, m.rs),
  };
  return { m, outcome };
}

/** A refused batch: nothing changes, but when only the kernel refused it (nft sent it whole), the kernel took a
 *  handle for every object of it it processed (nf_tables_alloc_handle is not rolled back; measured). */
function refused(
  base: NftRuleset | undefined,
  sets: DynSets | undefined,
  inc: IncCounters | undefined,
  text: string,
  at: NftTxAt,
  assume: boolean,
  e: InputError,
): NftTxOutcome {
  const rs = base ? structuredClone(base) : emptyNftRuleset();
  const lint = lintNft(text, { file: at.file, base: materialize(base, sets, at, assume).rs });
  if (lint.errors.length && lint.errors.every(isKernelRefusal))
    for (const [k, t] of rs.tables) {
      const after = lint.ruleset.tables.get(k);
      if (after) t.nextHandle = Math.max(t.nextHandle, after.nextHandle);
    }
  return { refusal: e.message, ruleset: rs, sets: sets ?? new Map(), inc: inc ?? new Map() };
}

/**
 * `nft -f TEXT` on the host's state: all or nothing. One outcome, or two when an element whose presence is a
 * question (spec/nft.md §8) decides whether the kernel refuses it: with the element there, then without; the
 * caller follows the one the kernel took.
 */
export function nftTransaction(
  base: NftRuleset | undefined,
  sets: DynSets | undefined,
  text: string,
  at: NftTxAt,
  inc?: IncCounters,
): NftTxOutcome[] {
  const first = attempt(base, sets, inc, text, at, true);
  if (!first.m.unsure) return [first.outcome];
  const second = attempt(base, sets, inc, text, at, false).outcome;
  return (first.outcome.refusal === undefined) === (second.refusal === undefined)
    ? [first.outcome]
    : [first.outcome, second];
}

/** The outcome to follow: the one whose acceptance the kernel's answer shares (the first without a kernel). */
export function followed(outcomes: readonly NftTxOutcome[], kernelRefused: boolean | undefined): NftTxOutcome {
  if (kernelRefused === undefined) return outcomes[0]!;
  return outcomes.find((o) => (o.refusal !== undefined) === kernelRefused) ?? outcomes[0]!;
}
