// The nft evaluator: one packet through a chain of an nft table, as pure functions over the model's
// packet (spec/nft.md §8). Kernel: net/netfilter/nf_tables_core.c nft_do_chain (rules in order, the
// first expression that does not match ends the rule, NFT_BREAK), nft_cmp.c, nft_range.c, nft_bitwise.c,
// nft_lookup.c (sets and verdict maps), nft_numgen.c (random: each of mod values equally likely),
// nft_immediate.c (verdicts), nft_meta.c, nft_ct.c, nft_fib.c. jump pushes a return point, goto does
// not, return pops one; the end of a base chain applies its policy. Matches are three-valued: what the
// model cannot know (an unknown fib address type, a missing interface name) is "unknown", never guessed.
// The packet path (src/model/path.ts) runs it at each registered base chain (nft-hook.ts).
import type { Pkt } from '../eval/packet.ts';
import { selector, type SelectorDesc } from './descriptors.ts';
import { rulesChange } from './held.ts';
import { valueBounds } from './sets.ts';
import { CT_STATE, DTYPES, NFPROTO } from './datatypes.ts';
import type {
  NftTable,
  NftChain,
  NftSet,
  Stmt,
  Expr,
  Value,
  Element,
  Verdict,
  Atom,
  NftHook,
  DynsetOp,
  MapLookup,
  MarkSource,
} from './types.ts';

export type Tri = boolean | 'unknown';

export interface NftEnv {
  hook: NftHook;
  /** interface names, when the hook has them */
  iif?: string;
  oif?: string;
  /** the packet's connection as the ct expressions read it; absent: none (nft_ct.c: `ct state` reads invalid,
   *  or untracked after notrack; other ct keys break the rule) */
  ct?: { state: number; status: number; mark: number };
  /** RTN_* address type of an address (fib), undefined when the model cannot tell */
  fibAddrType?: (addr: number) => number | undefined;
  /** Is the key in a set rules may change ("flags dynamic" or "flags timeout")? Its elements are the host's state
   *  (dyn-state.ts), and whether one has expired may be a question only both answers settle (the lookup's rule
   *  is `at`). Absent: the set's loaded elements, as loaded. */
  setHas?: (set: NftSet, key: readonly Atom[], at: NftRuleHit) => boolean;
  /** How many elements such a set's count holds (dyn-state.ts setCount): surely, at most. Absent: its loaded
   *  elements. */
  setCount?: (set: NftSet) => { sure: number; maybe: number };
  /** The value such a map holds for a key that is there (dyn-state.ts setData). Absent: its loaded elements'. */
  setData?: (set: NftSet, key: readonly Atom[]) => Atom[] | undefined;
  /** The last value a `numgen inc` expression gave (without its offset), by numgenKey. Absent, or undefined for
   *  one: as loaded, mod - 1, so that its first packet draws 0 (nft_numgen.c nft_ng_inc_init). */
  incCounter?: (key: string) => number | undefined;
}

/** A `numgen inc` expression's counter: its rule (by handle: a rule keeps it while it stands) and statement. */
export const numgenKey = (chain: string, handle: number, stmt: number): string => `${chain}\0${handle}\0${stmt}`;

/** The value a `numgen inc` expression gave a packet: its counter after, without the offset. */
export interface IncDraw {
  key: string;
  value: number;
}

/** An add/update/delete statement's element, applied to the host's state when the packet's branch is taken. */
export interface DynUpdate {
  set: string;
  op: DynsetOp;
  key: Atom[];
  /** ms; absent: the set's own */
  timeout?: number;
  /** a data map's value for a new element (an element that is there keeps its own: nft_dynset.c) */
  data?: Atom[];
  /** the rule, for a question on whether an element "add" finds has expired */
  at: NftRuleHit;
}

/** A field of the packet or its context; undefined: not present (the expression breaks), 'unknown': cannot tell. */
function field(d: SelectorDesc, pkt: Pkt, env: NftEnv): Atom | undefined | 'unknown' {
  const l4ok = pkt.proto === 6 || pkt.proto === 17;
  switch (d.field) {
    case 'saddr':
      return pkt.src;
    case 'daddr':
      return pkt.dst;
    case 'l4proto':
      return pkt.proto;
    case 'sport':
    case 'dport':
      // tcp/udp selectors carry their protocol check (the dependency nft adds); th reads the header
      if (d.l4 === 'tcp' && pkt.proto !== 6) return undefined;
      if (d.l4 === 'udp' && pkt.proto !== 17) return undefined;
      if (!l4ok) return 'unknown';
      return d.field === 'sport' ? pkt.sport : pkt.dport;
    case 'mark':
      return pkt.mark;
    case 'ctmark':
      return env.ct?.mark;
    case 'ctstate':
      return env.ct ? env.ct.state : pkt.notrack ? CT_STATE.untracked! : CT_STATE.invalid!;
    case 'ctstatus':
      return env.ct?.status;
    case 'iif':
    case 'iifname':
      return env.iif ?? 'unknown';
    case 'oif':
    case 'oifname':
      return env.oif ?? 'unknown';
    case 'nfproto':
      return NFPROTO.ipv4;
    case 'ipv6':
      return undefined;
    case 'fib-daddr-type':
    case 'fib-saddr-type': {
      const t = env.fibAddrType?.(d.field === 'fib-daddr-type' ? pkt.dst : pkt.src);
      return t ?? 'unknown';
    }
  }
}

function valueHas(v: Value, x: Atom, flagsAny: boolean): boolean {
  if (typeof x === 'string') {
    if (v.kind !== 'value' || typeof v.v !== 'string') return false;
    // "eth*": a prefix of the name (nft_cmp on the name's first bytes)
    return v.v.endsWith('*') ? x.startsWith(v.v.slice(0, -1)) : x === v.v;
  }
  if (flagsAny && (v.kind === 'value' || v.kind === 'flags')) return (x & (v.v as number)) !== 0;
  const b = valueBounds(v);
  return !!b && x >= b[0] && x <= b[1];
}

const keyHas = (el: Element, xs: readonly Atom[]) => el.key.every((v, i) => valueHas(v, xs[i]!, false));

/** Each component of a key: its value, 'unknown' when the model cannot tell it; undefined: one is absent
 *  (the expression breaks the rule). */
function keyParts(e: Expr, pkt: Pkt, env: NftEnv): (Atom | 'unknown')[] | undefined {
  if (e.kind === 'numgen') return ['unknown'];
  const names = e.kind === 'concat' ? e.parts : [e.name];
  const out: (Atom | 'unknown')[] = [];
  for (const n of names) {
    const v = field(selector(n), pkt, env);
    if (v === undefined) return undefined;
    out.push(v === 'unknown' || e.kind !== 'and' ? v : ((v as number) & e.mask) >>> 0);
  }
  return out;
}

const spansAll = (v: Value, bits: number) => {
  const b = valueBounds(v);
  return !!b && b[0] === 0 && b[1] >= 2 ** bits - 1;
};

/** The width of each component of a key, for spansAll. */
const keyBits = (e: Expr): number[] =>
  e.kind === 'numgen' ? [32] : (e.kind === 'concat' ? e.parts : [e.name]).map((n) => DTYPES[selector(n).dtype].bits);

/**
 * A set or map lookup (nft_lookup.c) with components the model may not know: an element whose known
 * components miss cannot match, whatever the unknown ones hold. `ip daddr . meta l4proto . th dport` of an
 * ICMP packet reads the ICMP checksum as the port (nft_payload.c: the transport header of any protocol), but
 * no element keyed `tcp` or `udp` can match it: a miss, as the kernel finds (spec/nft.md §8). Keys in a set
 * do not overlap, so one element that surely matches is the one.
 */
function lookup(
  els: readonly Element[],
  parts: readonly (Atom | 'unknown')[],
  bits: readonly number[],
): Element | undefined | 'unknown' {
  let open = false;
  for (const el of els) {
    let sure = true;
    let miss = false;
    el.key.forEach((v, i) => {
      const x = parts[i]!;
      if (x === 'unknown') sure = false;
      else if (!valueHas(v, x, false)) miss = true;
    });
    if (miss) continue;
    if (sure) return el;
    // an element whose unknown components all span their whole type matches whatever they hold
    if (el.key.every((v, i) => parts[i] !== 'unknown' || spansAll(v, bits[i]!))) return el;
    open = true;
  }
  return open ? 'unknown' : undefined;
}

function exprValues(e: Expr, pkt: Pkt, env: NftEnv): Atom[] | undefined | 'unknown' {
  if (e.kind === 'numgen') return 'unknown';
  const names = e.kind === 'concat' ? e.parts : [e.name];
  const out: Atom[] = [];
  for (const n of names) {
    const v = field(selector(n), pkt, env);
    if (v === undefined || v === 'unknown') return v;
    out.push(e.kind === 'and' ? ((v as number) & e.mask) >>> 0 : v);
  }
  return out;
}

/** What the model could not tell for an expression (for the trace and the indeterminate result). */
function whyUnknown(e: Expr, pkt: Pkt, env: NftEnv): string {
  const names = e.kind === 'concat' ? e.parts : e.kind === 'numgen' ? [] : [e.name];
  const n = names.find((x) => field(selector(x), pkt, env) === 'unknown');
  return n ? `nft ${n} of this packet` : 'nft expression';
}

const sameKey = (a: readonly Atom[], b: readonly Atom[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Is the key in a named set: its loaded elements, or, for a set rules change, what this packet added before
 *  (nft_dynset.c inserts at once) and the host's state. */
function inNamedSet(
  t: NftTable,
  name: string,
  xs: Atom[],
  env: NftEnv,
  pending: readonly DynUpdate[],
  at?: NftRuleHit,
) {
  const set = t.sets.get(name);
  if (!set) return false;
  if (rulesChange(t, set) && env.setHas && at) {
    // what this packet did to the key last decides (an add or update puts it there, a delete takes it out)
    const mine = pending.findLast((u) => u.set === name && sameKey(u.key, xs));
    if (mine) return mine.op !== 'delete';
    return env.setHas(set, xs, at);
  }
  return set.elements.some((el) => keyHas(el, xs));
}

/** The value a stateful data map holds for a key that is there: what this packet's add/update gave it when it was
 *  not there before, else the host's state or the loaded element's (an update leaves an element's value alone:
 *  nft_dynset_eval finds it, nft_dynset_new runs only for a new one). */
function dataOf(t: NftTable, set: NftSet, xs: Atom[], env: NftEnv, pending: readonly DynUpdate[], at: NftRuleHit) {
  const mine = pending.filter((u) => u.set === set.name && sameKey(u.key, xs));
  const lastDelete = mine.findLastIndex((u) => u.op === 'delete');
  const after = mine.slice(lastDelete + 1);
  const before = lastDelete < 0 && inNamedSet(t, set.name, xs, env, [], at);
  if (!before && after[0]) return after[0].data;
  return env.setData?.(set, xs) ?? set.elements.find((el) => keyHas(el, xs))?.data;
}

/** A data map's value for the packet's key (nft_lookup.c with a data register): the element's data; undefined
 *  when it misses or the key has no value (NFT_BREAK: the rule ends), 'unknown' when the model cannot tell. */
function mapValue(
  t: NftTable,
  l: MapLookup,
  pkt: Pkt,
  env: NftEnv,
  pending: readonly DynUpdate[],
  at: NftRuleHit,
  rnd?: number,
): { data: Atom[]; hi?: Atom[] } | undefined | 'unknown' {
  const parts = l.key.kind === 'numgen' && rnd !== undefined ? [rnd] : keyParts(l.key, pkt, env);
  if (parts === undefined) return undefined;
  const set = l.map.kind === 'ref' ? t.sets.get(l.map.name) : undefined;
  if (set && rulesChange(t, set) && env.setHas) {
    if (parts.some((x) => x === 'unknown')) return 'unknown';
    const xs = parts as Atom[];
    const data = inNamedSet(t, set.name, xs, env, pending, at) ? dataOf(t, set, xs, env, pending, at) : undefined;
    return data && { data };
  }
  const els = l.map.kind === 'ref' ? (set?.elements ?? []) : l.map.elements;
  const hit = lookup(els, parts, keyBits(l.key));
  if (hit === 'unknown') return 'unknown';
  return hit?.data && (hit.dataHi ? { data: hit.data, hi: hit.dataHi } : { data: hit.data });
}

/** May an add/update put the key in the set: it is there already (found, no new element), or the set's count is
 *  below its size, counting what this packet added (nft_set_hash.c nft_rhash_update, nft_dynset.c). */
function hasRoom(
  t: NftTable,
  name: string,
  xs: Atom[],
  env: NftEnv,
  pending: readonly DynUpdate[],
  at: NftRuleHit,
): Tri {
  const set = t.sets.get(name);
  if (!set || set.size === undefined) return true;
  if (inNamedSet(t, name, xs, env, pending, at)) return true;
  const fresh = new Set<string>();
  for (const u of pending)
    if (u.set === name && u.op !== 'delete' && !inNamedSet(t, name, u.key, env, [], at))
      fresh.add(JSON.stringify(u.key));
  const count = env.setCount?.(set) ?? { sure: set.elements.length, maybe: set.elements.length };
  if (count.sure + fresh.size >= set.size) return false;
  if (count.maybe + fresh.size < set.size) return true;
  return 'unknown';
}

/** Does a match statement hold for the packet? `rnd`: the value its numgen drew (offset included). */
export function matches(
  s: Extract<Stmt, { k: 'match' }>,
  t: NftTable,
  pkt: Pkt,
  env: NftEnv,
  rnd?: number,
  pending: readonly DynUpdate[] = [],
  at?: NftRuleHit,
): Tri {
  const right = s.right;
  if (right.kind !== 'values') {
    // a set lookup (an equality on each element, flags too), three-valued per component
    if (s.left.kind === 'numgen' && rnd === undefined) return 'unknown';
    const parts = s.left.kind === 'numgen' ? [rnd!] : keyParts(s.left, pkt, env);
    if (parts === undefined) return false;
    const set = right.kind === 'ref' ? t.sets.get(right.name) : undefined;
    if (set && rulesChange(t, set) && env.setHas && at) {
      // a set rules change: its elements are the host's state (exact keys: no intervals in such a set)
      if (parts.some((x) => x === 'unknown')) return 'unknown';
      const has = inNamedSet(t, set.name, parts as Atom[], env, pending, at);
      return s.op === 'ne' ? !has : has;
    }
    const els = right.kind === 'ref' ? (set?.elements ?? []) : right.elements;
    const hit = lookup(els, parts, keyBits(s.left));
    if (hit === 'unknown') return 'unknown';
    return s.op === 'ne' ? hit === undefined : hit !== undefined;
  }
  let xs: Atom[] | undefined | 'unknown';
  if (s.left.kind === 'numgen') {
    if (rnd === undefined) return 'unknown';
    xs = [rnd];
  } else xs = exprValues(s.left, pkt, env);
  if (xs === undefined) return false;
  if (xs === 'unknown') return 'unknown';
  const flags = s.left.kind === 'sel' && !!selector(s.left.name).dtype.startsWith('ct_s') && !s.explicit;
  const hit = valueHas(right.value, xs[0]!, flags && s.op === 'eq');
  return s.op === 'ne' ? !hit : hit;
}

export type NftVerdict = 'accept' | 'drop';

/** A nat statement's address (and port) as it ran: from a map of ranges, the high ends too. */
export type ResolvedNat = Extract<Stmt, { k: 'nat' }> & { addr: number; addrHi?: number; portHi?: number };

export interface NftRuleHit {
  chain: string;
  /** index of the rule in its chain */
  rule: number;
}

export interface NftOutcome {
  /** probability of this branch (numgen makes several) */
  p: number;
  /** the verdict, or 'unknown' when a match could not be decided */
  verdict: NftVerdict | 'unknown';
  /** 'unknown': the rule whose match could not be decided, and why */
  undecided?: NftRuleHit & { why: string };
  /** the rules whose statements ran, in order */
  trace: NftRuleHit[];
  pkt: Pkt;
  ctMark?: number;
  /** a NAT statement that ended the chain, its address (and port) read from its map if it has one */
  nat?: ResolvedNat | Extract<Stmt, { k: 'masquerade' }>;
  reject?: Extract<Stmt, { k: 'reject' }>;
  /** the verdict is the base chain's policy (no rule gave one) */
  policy?: true;
  /** elements add/update statements put in named sets, in order */
  updates?: DynUpdate[];
  /** `numgen inc` counters this packet moved on, in order (the last of a key is its counter now) */
  incs?: IncDraw[];
}

/** The values numgen expressions of the rule being rerun drew, by statement index (offset included): a random
 *  draw is a branch each value of which the rule is run again with (nft_ng_random_eval). */
interface Pin {
  chain: NftChain;
  rule: number;
  values: ReadonlyMap<number, number>;
}

interface Frame {
  chain: NftChain;
  rule: number;
  /** the bottom frame carries the base chain's policy, also when a goto replaced its chain */
  policy?: NftVerdict;
}

const MAX_STEPS = 10_000;

/** The packet through a base chain: every branch with its probability. */
export function evalBaseChain(t: NftTable, chain: string, pkt: Pkt, env: NftEnv): NftOutcome[] {
  const c = t.chains.get(chain);
  if (!c?.base) throw new Error(`internal: ${chain} is not a base chain of ${t.name}`);
  const out: NftOutcome[] = [];
  const bottom: Frame = { chain: c, rule: 0, policy: c.base.policy };
  run(t, [bottom], { p: 1, verdict: 'accept', trace: [], pkt: { ...pkt } }, env, out, 0);
  return out;
}

function mark(src: Exclude<MarkSource, { kind: 'map' }>, pkt: Pkt, ctMark: number): number {
  if (src.kind === 'const') return src.v;
  const base = src.from === 'meta' ? pkt.mark : ctMark;
  if (!src.op) return base;
  const v = src.v!;
  return (src.op === '|' ? base | v : src.op === '&' ? base & v : base ^ v) >>> 0;
}

function run(
  t: NftTable,
  stack: Frame[],
  o: NftOutcome,
  env: NftEnv,
  out: NftOutcome[],
  steps: number,
  pin?: Pin,
): void {
  for (;;) {
    if (++steps > MAX_STEPS) throw new Error('internal: nft evaluation does not end');
    const top = stack[stack.length - 1];
    if (!top) return void out.push(o);
    const { chain } = top;
    if (top.rule >= chain.rules.length) {
      stack.pop();
      if (stack.length === 0) return void out.push({ ...o, verdict: top.policy ?? 'accept', policy: true });
      continue;
    }
    const ruleIndex = top.rule++;
    const r = chain.rules[ruleIndex]!;
    let ctMark = o.ctMark ?? env.ct?.mark ?? 0;
    let pkt = o.pkt;
    let updates = o.updates ?? [];
    let incs = o.incs ?? [];
    const here: NftRuleHit = { chain: chain.name, rule: ruleIndex };
    const pins = pin && pin.chain === chain && pin.rule === ruleIndex ? pin.values : undefined;
    pin = undefined;
    // the state a statement that ends the chain carries out
    const state = () => ({ pkt, ctMark, updates, ...(incs.length ? { incs } : {}) });
    /** The value statement i's numgen draws: inc moves its counter on (nft_ng_inc_gen); random is a branch per
     *  value, each equally likely (nft_ng_random_gen), the rule run again from its start with the value pinned
     *  (undefined: the branches are taken). */
    const draw = (i: number, e: Extract<Expr, { kind: 'numgen' }>): number | undefined => {
      if (e.mode === 'inc') {
        const key = numgenKey(chain.name, r.handle, i);
        const last = incs.findLast((d) => d.key === key)?.value ?? env.incCounter?.(key) ?? e.mod - 1;
        const value = last + 1 < e.mod ? last + 1 : 0;
        incs = [...incs, { key, value }];
        return value + e.offset;
      }
      const v = pins?.get(i);
      if (v !== undefined) return v;
      for (let k = 0; k < e.mod; k++) {
        const frames = stack.map((f) => ({ ...f }));
        frames[frames.length - 1]!.rule = ruleIndex;
        const values = new Map(pins ?? []).set(i, k + e.offset);
        run(t, frames, { ...o, p: o.p / e.mod }, env, out, steps, { chain, rule: ruleIndex, values });
      }
      return undefined;
    };
    // nft_do_chain traces a rule (NFT_TRACETYPE_RULE) once all its expressions ran without NFT_BREAK: a
    // failed match or a lookup miss ends the rule untraced (the statements before it have acted)
    const traced = (x: NftOutcome): NftOutcome => ({
      ...x,
      trace: [...x.trace, { chain: chain.name, rule: ruleIndex }],
    });
    let next: Verdict | undefined;
    let broke = false;
    for (let i = 0; i < r.stmts.length && !broke && !next; i++) {
      const s = r.stmts[i]!;
      // a `ct mark set` earlier in the traversal is the connection's mark now (nft_ct_set_eval writes ct->mark)
      const cur: NftEnv = env.ct && ctMark !== env.ct.mark ? { ...env, ct: { ...env.ct, mark: ctMark } } : env;
      switch (s.k) {
        case 'match': {
          let rnd: number | undefined;
          if (s.left.kind === 'numgen' && (rnd = draw(i, s.left)) === undefined) return;
          const m = matches(s, t, pkt, cur, rnd, updates, here);
          if (m === 'unknown')
            return void out.push({
              ...o,
              verdict: 'unknown',
              undecided: { chain: chain.name, rule: ruleIndex, why: whyUnknown(s.left, pkt, cur) },
            });
          if (!m) broke = true;
          break;
        }
        case 'counter':
        case 'log':
          break;
        case 'dynset': {
          // nft_dynset_eval: the key's expressions are evaluated; a missing one (no such header) breaks the rule
          const xs = exprValues(s.key, pkt, cur);
          if (xs === 'unknown')
            return void out.push({
              ...o,
              verdict: 'unknown',
              undecided: { ...here, why: whyUnknown(s.key, pkt, cur) },
            });
          if (xs === undefined) {
            broke = true;
            break;
          }
          // a new element needs room (nft_dynset_new: atomic_add_unless(nelems, 1, size)); a full set makes the
          // update fail and the rule break (NFT_BREAK); a delete never breaks (nft_dynset_eval returns)
          const room = s.op === 'delete' ? true : hasRoom(t, s.set, xs, cur, updates, here);
          if (room === 'unknown')
            return void out.push({
              ...o,
              verdict: 'unknown',
              undecided: { ...here, why: `whether @${s.set} is full (its count of elements is not known exactly)` },
            });
          if (!room) {
            broke = true;
            break;
          }
          const u: DynUpdate = { set: s.set, op: s.op, key: xs, at: here };
          if (s.timeout !== undefined) u.timeout = s.timeout;
          if (s.data) u.data = s.data;
          updates = [...updates, u];
          break;
        }
        case 'notrack':
          pkt = { ...pkt, notrack: true };
          break;
        case 'opaque':
          // outside the subset (read around, spec/nft.md §3a): what it does to this packet is not known
          return void out.push({ ...o, verdict: 'unknown', undecided: { ...here, why: `${s.why}: ${s.text}` } });
        case 'mark': {
          let v: number;
          if (s.value.kind === 'map') {
            const key = s.value.lookup.key;
            let rnd: number | undefined;
            if (key.kind === 'numgen' && (rnd = draw(i, key)) === undefined) return;
            const d = mapValue(t, s.value.lookup, pkt, cur, updates, here, rnd);
            if (d === 'unknown')
              return void out.push({
                ...o,
                verdict: 'unknown',
                undecided: { ...here, why: whyUnknown(s.value.lookup.key, pkt, cur) },
              });
            // a miss ends the rule (nft_lookup_eval: NFT_BREAK), the mark unchanged
            if (d === undefined) {
              broke = true;
              break;
            }
            v = d.data[0] as number;
          } else v = mark(s.value, pkt, ctMark);
          if (s.target === 'meta') pkt = { ...pkt, mark: v };
          else ctMark = v;
          break;
        }
        case 'verdict':
          next = s.v;
          break;
        case 'nat': {
          if (typeof s.addr === 'number') {
            const nat: ResolvedNat = { ...s, addr: s.addr };
            return void out.push(traced({ ...o, ...state(), verdict: 'accept', nat }));
          }
          // "dnat to KEY map @m": the address (and port) the map holds for the packet; a miss ends the rule
          // (nft_lookup_eval: NFT_BREAK) and nft_nat_eval never runs
          let rnd: number | undefined;
          if (s.addr.key.kind === 'numgen' && (rnd = draw(i, s.addr.key)) === undefined) return;
          const d = mapValue(t, s.addr, pkt, cur, updates, here, rnd);
          if (d === 'unknown')
            return void out.push({
              ...o,
              verdict: 'unknown',
              undecided: { ...here, why: whyUnknown(s.addr.key, pkt, cur) },
            });
          if (d === undefined) {
            broke = true;
            break;
          }
          // a range value (nft_nat.c: addr_min/addr_max, proto_min/proto_max from the map's registers) is the nat
          // core's range, as `dnat to A-B:P-Q`
          const port = d.data.length > 1 ? (d.data[1] as number) : s.port;
          const portHi = d.data.length > 1 ? (d.hi?.[1] as number | undefined) : undefined;
          const addrHi = d.hi?.[0] as number | undefined;
          const nat: ResolvedNat = {
            k: 'nat',
            type: s.type,
            ipFamily: s.ipFamily,
            addr: d.data[0] as number,
            ...(port !== undefined ? { port } : {}),
            ...(addrHi !== undefined && addrHi !== d.data[0] ? { addrHi } : {}),
            ...(portHi !== undefined && portHi !== port ? { portHi } : {}),
          };
          return void out.push(traced({ ...o, ...state(), verdict: 'accept', nat }));
        }
        case 'masquerade':
          return void out.push(traced({ ...o, ...state(), verdict: 'accept', nat: s }));
        case 'reject':
          return void out.push(traced({ ...o, ...state(), verdict: 'drop', reject: s }));
        case 'vmap': {
          const els = s.map.kind === 'ref' ? (t.sets.get(s.map.name)?.elements ?? []) : s.map.elements;
          let parts: (Atom | 'unknown')[] | undefined;
          if (s.key.kind === 'numgen') {
            const rnd = draw(i, s.key);
            if (rnd === undefined) return;
            parts = [rnd];
          } else parts = keyParts(s.key, pkt, cur);
          const el = parts === undefined ? undefined : lookup(els, parts, keyBits(s.key));
          if (el === 'unknown')
            return void out.push({
              ...o,
              verdict: 'unknown',
              undecided: { chain: chain.name, rule: ruleIndex, why: whyUnknown(s.key, pkt, cur) },
            });
          if (el) next = el.verdict;
          else broke = true;
          break;
        }
      }
    }
    if (!broke) o = traced(o);
    o = { ...o, pkt, ctMark, ...(updates.length ? { updates } : {}), ...(incs.length ? { incs } : {}) };
    if (next) return follow(t, stack, o, next, env, out, steps);
  }
}

function follow(
  t: NftTable,
  stack: Frame[],
  o: NftOutcome,
  v: Verdict,
  env: NftEnv,
  out: NftOutcome[],
  steps: number,
): void {
  switch (v.kind) {
    case 'accept':
    case 'drop':
      return void out.push({ ...o, verdict: v.kind });
    case 'continue':
      return run(t, stack, o, env, out, steps);
    case 'return': {
      // from the base chain (or what a goto put in its place): the policy
      const popped = stack.pop()!;
      if (stack.length === 0) return void out.push({ ...o, verdict: popped.policy ?? 'accept', policy: true });
      return run(t, stack, o, env, out, steps);
    }
    case 'jump':
    case 'goto': {
      const c = t.chains.get(v.chain);
      if (!c) throw new Error(`internal: no chain ${v.chain}`);
      if (v.kind === 'goto') {
        const replaced = stack.pop()!;
        stack.push(replaced.policy ? { chain: c, rule: 0, policy: replaced.policy } : { chain: c, rule: 0 });
      } else stack.push({ chain: c, rule: 0 });
      return run(t, stack, o, env, out, steps);
    }
  }
}
