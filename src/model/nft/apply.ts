// Runs parsed commands against a ruleset as one transaction, with the checks nft and the kernel make
// (spec/nft.md §4): a refused command refuses the whole file, as `nft -f` does.
import { InputError, type SourcePos } from '../errors.ts';
import { DTYPES } from './datatypes.ts';
import { PROTO_NAME } from './protocols.ts';
import { protoAfter } from './proto-ctx.ts';
import { selector, CHAIN_TYPE_HOOKS } from './descriptors.ts';
import { parseNftCommands, resolveElement, type Command, type TableRef } from './parse.ts';
import { validateNftTable } from './validate.ts';
import { canonicalElements, sameValue } from './sets.ts';
import { inJiffies } from './time.ts';
import {
  emptyNftRuleset,
  tableKey,
  type NftRuleset,
  type NftTable,
  type NftChain,
  type NftSet,
  type Stmt,
  type Expr,
  type Element,
  type Verdict,
  type DtypeName,
  type MapLookup,
  type MapData,
  isDataMap,
} from './types.ts';

const invalid = (msg: string, pos: SourcePos) => new InputError('invalid', msg, pos);

/** Refusals the kernel makes (nf_tables_api.c), not nft's evaluation: nft has sent the whole batch then, and
 *  the kernel processed every message before it aborted, so the handles the batch took stay taken (measured,
 *  nft 1.0.6 on Linux 6.18: a refused `delete rule ... handle 99` after an `add rule` moves the next handle on). */
const kernelRefusals = new WeakSet<InputError>();
const byKernel = (msg: string, pos: SourcePos) => {
  const e = invalid(msg, pos);
  kernelRefusals.add(e);
  return e;
};
export const isKernelRefusal = (e: unknown): boolean => e instanceof InputError && kernelRefusals.has(e);

function cloneRuleset(rs: NftRuleset): NftRuleset {
  return structuredClone(rs);
}

function table(rs: NftRuleset, ref: TableRef, pos: SourcePos): NftTable {
  const t = rs.tables.get(tableKey(ref.family, ref.table));
  if (!t) throw invalid(`no table ${ref.family} ${ref.table}`, pos);
  return t;
}
function chainOf(t: NftTable, name: string, pos: SourcePos): NftChain {
  const c = t.chains.get(name);
  if (!c) throw byKernel(`no chain ${name} in table ${t.family} ${t.name}`, pos);
  return c;
}
function setOf(t: NftTable, name: string, pos: SourcePos): NftSet {
  const s = t.sets.get(name);
  if (!s) throw invalid(`no set or map ${name} in table ${t.family} ${t.name}`, pos);
  return s;
}

export function exprDtypes(e: Expr): DtypeName[] {
  switch (e.kind) {
    case 'sel':
    case 'and':
      return [selector(e.name).dtype];
    case 'concat':
      return e.parts.map((p) => selector(p).dtype);
    case 'numgen':
      return ['integer'];
  }
}

const sameTypes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
// a numgen key (integer) against a named set or map of marks is a mismatch (measured, nft 1.0.6: "datatype mismatch,
// map expects packet mark, mapping expression has type integer"); no set type of the subset is integer
const compatible = (want: readonly DtypeName[], have: readonly DtypeName[]) => sameTypes(want, have);

function checkVerdictTarget(t: NftTable, v: Verdict | undefined, pos: SourcePos): void {
  if (!v || (v.kind !== 'jump' && v.kind !== 'goto')) return;
  const c = t.chains.get(v.chain);
  if (!c) throw invalid(`${v.kind} to chain ${v.chain}, which does not exist`, pos);
  if (c.base) throw invalid(`cannot ${v.kind} to base chain ${v.chain}`, pos);
}

/** nft's protocol context over a rule (src/evaluate.c): conflicting protocols, nat ports need one. A listing
 *  of the kernel's state skips the conflict check: nft may list a rule it would refuse to read (measured, nft
 *  1.0.6: `ip protocol tcp meta l4proto { udp } ... th dport` lists its th as `udp dport`). */
function checkRule(
  t: NftTable,
  stmts: readonly Stmt[],
  spos: readonly SourcePos[],
  pos: SourcePos,
  listing = false,
): void {
  let proto: number | undefined;
  // an ip payload match before a nat statement tells nft the family in an inet table
  let ipContext = false;
  const at = (i: number) => spos[i] ?? pos;
  const l4Of = (name: string) => selector(name).l4;
  const useL4 = (l4: string | undefined, i: number) => {
    if (l4 !== 'tcp' && l4 !== 'udp') return;
    const n = l4 === 'tcp' ? 6 : 17;
    if (proto !== undefined && proto !== n && !listing)
      throw invalid(`conflicting protocols specified: ${PROTO_NAME[proto] ?? 'unknown'} vs. ${l4}`, at(i));
    proto = n;
  };
  stmts.forEach((s, i) => {
    const ng = numgenOf(s);
    // nft_numgen.c nft_ng_inc_init / nft_ng_random_init: ERANGE for mod 0, EOVERFLOW when offset + mod - 1 wraps
    if (ng && ng.mod === 0) throw byKernel('numgen mod 0: Numerical result out of range', at(i));
    if (ng && ng.offset + ng.mod - 1 > 0xffffffff)
      throw byKernel('numgen offset + mod - 1 exceeds 32 bits: Value too large for defined data type', at(i));
    if (s.k === 'dynset') {
      const names = s.key.kind === 'concat' ? s.key.parts : s.key.kind === 'sel' ? [s.key.name] : [];
      for (const n of names) useL4(l4Of(n), i);
      if (names.some((n) => n.startsWith('ip '))) ipContext = true;
      checkDynset(t, s, at(i));
    }
    if (s.k === 'match' || s.k === 'vmap') {
      const e = s.k === 'match' ? s.left : s.key;
      const v6 = (e.kind === 'concat' ? e.parts : e.kind === 'numgen' ? [] : [e.name]).find((n) => selector(n).ipv6);
      if (v6 && t.family !== 'inet')
        throw new InputError('unsupported', `${v6} in a table of family ${t.family}`, at(i));
      const names = e.kind === 'concat' ? e.parts : e.kind === 'numgen' ? [] : [e.name];
      for (const n of names) useL4(l4Of(n), i);
      if (names.some((n) => n.startsWith('ip '))) ipContext = true;
      proto = protoAfter(s, proto);
      const want = exprDtypes(e);
      const ref =
        s.k === 'match'
          ? s.right.kind === 'ref'
            ? s.right.name
            : undefined
          : s.map.kind === 'ref'
            ? s.map.name
            : undefined;
      if (ref !== undefined) {
        const set = setOf(t, ref, at(i));
        if (s.k === 'vmap' && !set.map) throw invalid(`${ref} is a set, vmap needs a map`, at(i));
        if (s.k === 'vmap' && isDataMap(set))
          throw invalid(`datatype mismatch: expected netfilter verdict, ${ref} maps to ${dataText(set.data)}`, at(i));
        if (s.k === 'match' && set.map) throw invalid(`${ref} is a map; use vmap`, at(i));
        if (!compatible(want, set.key))
          throw invalid(
            `datatype mismatch: ${ref} holds ${set.key.join(' . ')}, the expression is ${want.join(' . ')}`,
            at(i),
          );
      }
      if (s.k === 'vmap' && s.map.kind === 'set') {
        // one key with two verdicts reaches the kernel twice (EEXIST, measured)
        const seen = new Map<string, string>();
        for (const el of s.map.elements) {
          const k = JSON.stringify(el.key);
          const v = JSON.stringify(el.verdict);
          if (seen.has(k) && seen.get(k) !== v) throw invalid('a key of the verdict map has two verdicts', at(i));
          seen.set(k, v);
        }
      }
      if (s.k === 'vmap' && s.map.kind === 'set') {
        for (const el of s.map.elements) checkVerdictTarget(t, el.verdict, at(i));
        checkAnonIntervals(s.map.elements, want, at(i));
      }
      if (s.k === 'match' && s.left.kind === 'sel' && selector(s.left.name).dtype === 'iface_index')
        checkIface(s.right, at(i));
    }
    // measured: refused after a udp (or udplite) context, accepted after others
    if (s.k === 'reject' && s.with?.type === 'tcp-reset' && (proto === 17 || proto === 136))
      throw invalid('you cannot use tcp reset with this protocol', at(i));
    if (s.k === 'verdict') checkVerdictTarget(t, s.v, at(i));
    if (s.k === 'mark' && s.value.kind === 'map') {
      // the key's protocol and family count for what follows (measured: `meta mark set ip saddr map {...} dnat to
      // 10.0.0.1` loads in an inet table)
      const names = keyNames(s.value.lookup.key);
      for (const n of names) useL4(l4Of(n), i);
      if (names.some((n) => n.startsWith('ip '))) ipContext = true;
      checkLookup(t, s.value.lookup, ['mark'], at(i));
    }
    if (s.k === 'nat') {
      if (t.family === 'inet' && !s.ipFamily && !ipContext)
        throw invalid('ip or ip6 must be specified with address for inet tables', at(i));
      if (typeof s.addr !== 'number') {
        for (const n of keyNames(s.addr.key)) useL4(l4Of(n), i);
        const data = checkLookup(t, s.addr, undefined, at(i), listing);
        if (data.length > 1) {
          // an address and a port: the port needs a transport protocol, before or in the key (measured)
          if (proto === undefined)
            throw invalid('transport protocol mapping is only valid after transport protocol match', at(i));
          // nft 1.0.6 aborts on a port after such a map (netlink_linearize.c: assertion `stmt->nat.proto == NULL')
          if (s.port !== undefined) throw invalid(`a port after a map that gives the port too`, at(i));
        }
      }
      if (s.port !== undefined && proto === undefined)
        throw invalid('transport protocol mapping is only valid after transport protocol match', at(i));
    }
    if (s.k === 'masquerade' && s.port !== undefined && proto === undefined)
      throw invalid('transport protocol mapping is only valid after transport protocol match', at(i));
    if (s.k === 'reject' && s.with?.type === 'icmpx' && t.family === 'ip')
      throw invalid('abstracted ICMP unreachable not supported', at(i));
    if (s.k === 'reject' && s.with?.type === 'icmp' && t.family === 'inet' && !ipContext)
      throw new InputError('unsupported', 'reject with icmp in an inet table without an ip match before it', at(i));
  });
}

/** The numgen expression a statement reads, if any. */
function numgenOf(s: Stmt): Extract<Expr, { kind: 'numgen' }> | undefined {
  const e =
    s.k === 'match'
      ? s.left
      : s.k === 'vmap'
        ? s.key
        : s.k === 'mark' && s.value.kind === 'map'
          ? s.value.lookup.key
          : s.k === 'nat' && typeof s.addr !== 'number'
            ? s.addr.key
            : undefined;
  return e?.kind === 'numgen' ? e : undefined;
}

const keyNames = (e: Expr): string[] => (e.kind === 'concat' ? e.parts : e.kind === 'numgen' ? [] : [e.name]);
const dataText = (d: MapData | undefined) => (Array.isArray(d) ? d.join(' . ') : 'verdict');

/** A data-map lookup of a statement (nft_lookup.c with a data register): the map exists and is a data map of the
 *  key's type and of the data the statement takes (`want`; for nat an address, or an address and a port); an
 *  anonymous map holds a key once (two values: EEXIST, measured). Returns the map's data type. */
function checkLookup(
  t: NftTable,
  l: MapLookup,
  want: DtypeName[] | undefined,
  pos: SourcePos,
  listing = false,
): DtypeName[] {
  const key = exprDtypes(l.key);
  let data: DtypeName[];
  if (l.map.kind === 'ref') {
    const set = setOf(t, l.map.name, pos);
    if (!set.map || !Array.isArray(set.data))
      throw invalid(`${l.map.name} is a ${set.map ? 'verdict map' : 'set'}; a data map is needed here`, pos);
    if (!compatible(key, set.key))
      throw invalid(
        `datatype mismatch: ${l.map.name} holds ${set.key.join(' . ')}, the expression is ${key.join(' . ')}`,
        pos,
      );
    data = set.data;
  } else {
    data = l.map.elements[0]?.data ? [...(want ?? natData(l.map.elements))] : [...(want ?? ['ipv4_addr'])];
    checkAnonIntervals(l.map.elements, key, pos);
    // one element with a range or prefix value makes the map's data interval; a single value then is EINVAL
    // (measured: nft sends it half as long)
    if (l.map.elements.some((el) => el.dataHi) && l.map.elements.some((el) => el.data && !el.dataHi)) {
      if (!listing)
        throw byKernel('a map of interval values (ranges, prefixes) with a single value (Invalid argument)', pos);
      singlesAsIntervals(l.map.elements);
    }
    const seen = new Map<string, string>();
    for (const el of l.map.elements) {
      const k = JSON.stringify(el.key);
      const v = JSON.stringify([el.data, el.dataHi]);
      if (seen.has(k) && seen.get(k) !== v) throw invalid('a key of the map has two values (File exists)', pos);
      seen.set(k, v);
    }
  }
  const ok = want
    ? sameTypes(data, want)
    : sameTypes(data, ['ipv4_addr']) || sameTypes(data, ['ipv4_addr', 'inet_service']);
  if (!ok)
    throw invalid(
      `datatype mismatch: the map gives ${data.join(' . ')}, expected ${want?.join(' . ') ?? 'ipv4_addr'}`,
      pos,
    );
  return data;
}

/** An anonymous map's intervals may not overlap (nft: "conflicting intervals specified", measured; an anonymous set's
 *  are merged instead), an interval given twice is one. */
function checkAnonIntervals(els: readonly Element[], key: readonly DtypeName[], pos: SourcePos): void {
  if (key.length === 1 && canonicalElements(els, key, false).overlap)
    throw invalid('conflicting intervals specified', pos);
}

const natData = (els: readonly Element[]): DtypeName[] =>
  (els[0]?.data?.length ?? 1) > 1 ? ['ipv4_addr', 'inet_service'] : ['ipv4_addr'];

/** An add/update/delete statement's set (nft_dynset.c nft_dynset_init, the same checks for the three operations;
 *  errors measured with nft 1.0.6 on Linux 6.18). */
function checkDynset(t: NftTable, s: Extract<Stmt, { k: 'dynset' }>, pos: SourcePos): void {
  const set = t.sets.get(s.set);
  if (!set) throw invalid(`${s.op} @${s.set}: no set ${s.set} in table ${t.family} ${t.name}`, pos);
  if (set.map && !isDataMap(set))
    throw invalid(`${s.op} @${s.set}: ${s.set} is a verdict map, which rules cannot update (EOPNOTSUPP)`, pos);
  if (set.dataInterval) throw new InputError('unsupported', `${s.op} @${s.set}: a map of interval data`, pos);
  // a map's statement needs a value, a delete's too (nft_dynset_init: no NFTA_DYNSET_SREG_DATA, EINVAL; measured)
  if (set.map && !s.rawData && !s.data)
    throw invalid(`${s.op} @${s.set}: ${s.set} is a map; the element needs ": value"`, pos);
  if (!set.map && s.rawData) throw invalid(`${s.op} @${s.set}: ${s.set} is a set; its elements have no value`, pos);
  if (s.rawData && Array.isArray(set.data)) {
    const el = resolveElement({ pos, comps: [], data: s.rawData }, [], set.data, pos.file);
    if (el.dataHi) throw invalid(`${s.op} @${s.set}: a value must be a singleton`, pos);
    s.data = el.data!;
    delete s.rawData;
  }
  // a map declared with a size and neither "flags dynamic" nor timeouts gets the kernel's fixed-size hash, which has
  // no update (EOPNOTSUPP, measured; nft adds "flags dynamic" to a new set an add/update names, not to a map)
  if (set.map && set.fixedSize && !set.dynamic && !set.timeoutFlag)
    throw invalid(`${s.op} @${s.set}: a map with a "size" and no "flags dynamic" cannot be updated by rules`, pos);
  const want = exprDtypes(s.key);
  if (!compatible(want, set.key))
    throw invalid(
      `datatype mismatch: ${s.set} holds ${set.key.join(' . ')}, the expression is ${want.join(' . ')}`,
      pos,
    );
  // the interval backends (rbtree, pipapo) have no update operation: EOPNOTSUPP
  if (set.interval) throw invalid(`${s.op} @${s.set}: a set with "flags interval" cannot be updated by rules`, pos);
  if (s.timeout !== undefined && !set.timeoutFlag)
    throw invalid(`${s.op} @${s.set} with a timeout: ${s.set} has no "flags timeout" or "timeout"`, pos);
}

/** iif/oif name an interface that must exist when the rule is loaded: only "lo" is known to the model. */
function checkIface(right: Extract<Stmt, { k: 'match' }>['right'], pos: SourcePos): void {
  const names =
    right.kind === 'values' ? [right.value] : right.kind === 'set' ? right.elements.map((e) => e.key[0]!) : [];
  for (const v of names)
    if (!(v.kind === 'value' && v.v === 'lo'))
      throw new InputError('unsupported', 'iif/oif of an interface other than "lo" (resolved when loaded)', pos);
}

/** nft 1.0.6 lists an interval value whose ends are one value in each component of a concatenation as single
 *  values (`172.16.5.4 . 22`), which it then refuses to load (EINVAL, measured): a listing of the kernel's state is
 *  read as what the kernel holds, each such value an interval of one. */
function singlesAsIntervals(els: readonly Element[]): void {
  for (const el of els) if (el.data && !el.dataHi) el.dataHi = [...el.data];
}

function addElements(
  t: NftTable,
  set: NftSet,
  els: readonly Element[],
  create: boolean,
  pos: SourcePos,
  listing = false,
): void {
  if (listing && set.dataInterval) singlesAsIntervals(els);
  for (const el of els) {
    // an element with a timeout needs a set with timeouts (nf_tables_newsetelem: EINVAL)
    if ((el.timeout !== undefined || el.expires !== undefined) && !set.timeoutFlag)
      throw invalid(`set ${set.name} has no "flags timeout" but an element has a timeout`, pos);
    if (el.timeout !== undefined) el.timeout = inJiffies(el.timeout);
    if (el.expires !== undefined) el.expires = inJiffies(el.expires);
    checkVerdictTarget(t, el.verdict, pos);
    if (!set.interval && el.key.some((v) => v.kind === 'prefix' || v.kind === 'range'))
      throw invalid(`set ${set.name} has no "flags interval" but an element is a prefix or range`, pos);
    // a range or prefix as a value needs "type K : interval D" (nft: "Value must be a singleton"); such a map takes
    // no single value (nft sends it half as long: EINVAL, measured)
    if (el.dataHi && !set.dataInterval)
      throw invalid(`map ${set.name}: a value must be a singleton (its data is not "interval")`, pos);
    if (el.data && !el.dataHi && set.dataInterval)
      throw byKernel(`map ${set.name} of interval data: a single value (Invalid argument)`, pos);
    const same = set.elements.find((e) => e.key.every((v, i) => sameValue(v, el.key[i]!)));
    if (same) {
      if (create) throw byKernel(`element already exists in ${set.name}`, pos);
      if (JSON.stringify(same.verdict) !== JSON.stringify(el.verdict))
        throw byKernel(`element already exists in ${set.name} with another verdict`, pos);
      if (JSON.stringify([same.data, same.dataHi]) !== JSON.stringify([el.data, el.dataHi]))
        throw byKernel(`element already exists in ${set.name} with another value`, pos);
      // adding it again gives it the new timeout (the element's, else the set's) and a new expiry (nf_tables_api.c
      // nft_add_set_elem, "set element timeout update support", Linux 6.10; measured on 6.18)
      if (set.timeoutFlag) set.elements[set.elements.indexOf(same)] = el;
      continue;
    }
    set.elements.push(el);
  }
  if (set.interval && set.key.length === 1) {
    const c = canonicalElements(set.elements, set.key, false);
    if (c.overlap) throw invalid(`conflicting intervals specified in set ${set.name}`, pos);
  }
  // a set holds at most its size (nf_tables_api.c nft_add_set_elem: ENFILE, "Too many open files in system");
  // an interval counts once, a duplicate not at all (measured, nft 1.0.6 on Linux 6.18)
  if (set.size !== undefined && set.elements.length > set.size)
    throw invalid(`set ${set.name} is full: it holds at most ${set.size} elements (size ${set.size})`, pos);
}

function usesSet(c: NftChain, name: string): boolean {
  return c.rules.some((r) =>
    r.stmts.some(
      (s) =>
        (s.k === 'match' && s.right.kind === 'ref' && s.right.name === name) ||
        (s.k === 'dynset' && s.set === name) ||
        (s.k === 'vmap' && s.map.kind === 'ref' && s.map.name === name) ||
        (lookupOf(s)?.map.kind === 'ref' && (lookupOf(s)!.map as { name: string }).name === name),
    ),
  );
}

/** The data-map lookup a statement reads, if any. */
export function lookupOf(s: Stmt): MapLookup | undefined {
  if (s.k === 'mark' && s.value.kind === 'map') return s.value.lookup;
  if (s.k === 'nat' && typeof s.addr !== 'number') return s.addr;
  return undefined;
}

function jumpsTo(t: NftTable, name: string): boolean {
  const hit = (v: Verdict | undefined) => (v?.kind === 'jump' || v?.kind === 'goto') && v.chain === name;
  for (const c of t.chains.values())
    for (const r of c.rules)
      for (const s of r.stmts) {
        if (s.k === 'verdict' && hit(s.v)) return true;
        if (s.k === 'vmap' && s.map.kind === 'set' && s.map.elements.some((e) => hit(e.verdict))) return true;
      }
  for (const s of t.sets.values()) if (s.elements.some((e) => hit(e.verdict))) return true;
  return false;
}

/** rules and sets made by the transaction in progress */
const freshRules = new WeakMap<NftRuleset, WeakSet<object>>();

/** A set an add/update/delete statement names: nft gives it a size (65535, NFT_SET_DYNSET default) and, when the set is
 *  made in the same transaction, "flags dynamic" (src/evaluate.c); a set of an earlier one keeps its flags
 *  (measured). A new dynamic set with "flags interval" has no kernel backend (EOPNOTSUPP). */
function markDynamic(t: NftTable, stmts: readonly Stmt[], fresh: WeakSet<object>, pos: SourcePos): void {
  for (const s of stmts) {
    if (s.k !== 'dynset') continue;
    const set = t.sets.get(s.set)!;
    set.size ??= 65535;
    // a map is not made dynamic (measured: `update @m { k : v }` lists no "flags dynamic")
    if (fresh.has(set) && !set.map) set.dynamic = true;
  }
  void pos;
}

export function runCommand(rs: NftRuleset, c: Command, listing = false): void {
  let fresh = freshRules.get(rs);
  if (!fresh) freshRules.set(rs, (fresh = new WeakSet()));
  const pos = c.pos;
  switch (c.op) {
    case 'flush-ruleset':
      rs.tables.clear();
      return;
    case 'add-table':
    case 'create-table': {
      const key = tableKey(c.family, c.table);
      if (rs.tables.has(key)) {
        if (c.op === 'create-table') throw invalid(`table ${c.family} ${c.table} already exists`, pos);
        return;
      }
      const t: NftTable = { family: c.family, name: c.table, sets: new Map(), chains: new Map(), nextHandle: 1 };
      if (c.comment !== undefined) t.comment = c.comment;
      rs.tables.set(key, t);
      return;
    }
    case 'delete-table':
      table(rs, c, pos);
      rs.tables.delete(tableKey(c.family, c.table));
      return;
    case 'flush-table':
      for (const ch of table(rs, c, pos).chains.values()) ch.rules = [];
      return;
    case 'add-chain':
    case 'create-chain': {
      const t = table(rs, c, pos);
      const old = t.chains.get(c.chain);
      if (c.base) {
        if (!CHAIN_TYPE_HOOKS[c.base.type].includes(c.base.hook))
          throw invalid(`chain type ${c.base.type} cannot be registered at hook ${c.base.hook}`, pos);
        // nat chains must run after conntrack (kernel: nf_nat hooks need priority > NF_IP_PRI_CONNTRACK, measured)
        if (c.base.type === 'nat' && c.base.priority <= -200)
          throw invalid(`nat chain priority ${c.base.priority} must be above -200 (after conntrack)`, pos);
      }
      if (old) {
        if (c.op === 'create-chain') throw invalid(`chain ${c.chain} already exists`, pos);
        if (c.base) {
          if (
            !old.base ||
            old.base.type !== c.base.type ||
            old.base.hook !== c.base.hook ||
            old.base.priority !== c.base.priority
          )
            throw invalid(`chain ${c.chain} already exists with another type, hook or priority`, pos);
          old.base.policy = c.base.policy;
        }
        return;
      }
      const ch: NftChain = { name: c.chain, rules: [], handle: t.nextHandle++ };
      if (c.base) ch.base = { ...c.base };
      if (c.comment !== undefined) ch.comment = c.comment;
      t.chains.set(c.chain, ch);
      return;
    }
    case 'delete-chain': {
      // its rules go with it; only a chain something jumps to is busy (nf_tables_delchain: EBUSY while `use` is
      // left after its rules; measured, nft 1.0.6 on Linux 6.18: a chain with rules is deleted)
      const t = table(rs, c, pos);
      chainOf(t, c.chain, pos);
      if (jumpsTo(t, c.chain)) throw byKernel(`chain ${c.chain} is busy (a rule or map jumps to it)`, pos);
      t.chains.delete(c.chain);
      return;
    }
    case 'flush-chain':
      chainOf(table(rs, c, pos), c.chain, pos).rules = [];
      return;
    case 'add-set':
    case 'create-set': {
      const t = table(rs, c, pos);
      const old = t.sets.get(c.set.name);
      if (old) {
        const timeout = c.set.timeout ? inJiffies(c.set.timeout) : undefined;
        if (
          c.op === 'create-set' ||
          old.map !== c.set.map ||
          dataText(old.data) !== dataText(c.set.data) ||
          !!old.dataInterval !== !!c.set.dataInterval ||
          !sameTypes(old.key, c.set.key) ||
          old.interval !== c.set.interval ||
          // the kernel compares the flags (nf_tables_newset nft_set_is_same: EEXIST), and takes a new timeout
          (!fresh.has(old) &&
            (!!old.dynamic !== !!c.set.dynamic || !!old.timeoutFlag !== !!(c.set.timeoutFlag || timeout)))
        )
          throw invalid(`set ${c.set.name} already exists`, pos);
        if (timeout) old.timeout = timeout;
        return;
      }
      if (c.set.interval && c.set.dynamic)
        throw invalid(`set ${c.set.name}: "flags dynamic" and "flags interval" together have no kernel backend`, pos);
      const s: NftSet = {
        name: c.set.name,
        map: c.set.map,
        key: c.set.key,
        interval: c.set.interval,
        elements: [],
        handle: t.nextHandle++,
      };
      if (c.set.data) s.data = c.set.data;
      if (c.set.dataInterval) {
        // the values rules would put there are single values (nft_dynset.c): outside the subset
        if (c.set.dynamic || c.set.timeoutFlag || c.set.timeout)
          throw new InputError('unsupported', `map ${c.set.name}: interval data with "flags dynamic" or timeouts`, pos);
        s.dataInterval = true;
      }
      if (c.set.dynamic) s.dynamic = true;
      // a default timeout makes it a set with timeouts (nft adds the flag); 0 is none
      const timeout = c.set.timeout ? inJiffies(c.set.timeout) : undefined;
      if (c.set.timeoutFlag || timeout) s.timeoutFlag = true;
      if (timeout) s.timeout = timeout;
      if (c.set.size !== undefined) s.size = c.set.size;
      if (c.set.size !== undefined && !c.set.dynamic && !s.timeoutFlag && !c.set.interval) s.fixedSize = true;
      fresh.add(s);
      if (c.set.comment !== undefined) s.comment = c.set.comment;
      t.sets.set(s.name, s);
      return;
    }
    case 'delete-set': {
      const t = table(rs, c, pos);
      setOf(t, c.set, pos);
      if ([...t.chains.values()].some((ch) => usesSet(ch, c.set))) throw invalid(`set ${c.set} is in use`, pos);
      t.sets.delete(c.set);
      return;
    }
    case 'flush-set':
      setOf(table(rs, c, pos), c.set, pos).elements = [];
      return;
    case 'add-element':
    case 'create-element':
    case 'delete-element': {
      const t = table(rs, c, pos);
      const set = setOf(t, c.set, pos);
      const types = set.key.map((k) => DTYPES[k]);
      // a map's element is deleted by its key alone, whatever data is given (measured, nft 1.0.6)
      const del = c.op === 'delete-element';
      const data = set.map && (!del || r0(c.elements)) ? (set.data ?? 'verdict') : undefined;
      const els = c.elements.map((r) =>
        resolveElement(r, types, del && !r.verdict && !r.data ? undefined : data, pos.file),
      );
      if (del) {
        for (const el of els) {
          const i = set.elements.findIndex((e) => e.key.every((v, n) => sameValue(v, el.key[n]!)));
          if (i < 0) throw byKernel(`element does not exist in ${set.name}`, pos);
          set.elements.splice(i, 1);
        }
        return;
      }
      addElements(t, set, els, c.op === 'create-element', pos, listing);
      return;
    }
    case 'add-rule':
    case 'insert-rule': {
      const t = table(rs, c, pos);
      const ch = chainOf(t, c.chain, pos);
      checkRule(t, c.stmts, c.spos, pos, listing);
      markDynamic(t, c.stmts, fresh, pos);
      // each anonymous set or map a rule holds is a kernel object made first, with its own handle
      t.nextHandle += c.stmts.filter(
        (s) =>
          (s.k === 'vmap' && s.map.kind === 'set') ||
          lookupOf(s)?.map.kind === 'set' ||
          (s.k === 'match' && s.right.kind === 'set' && !(s.right.elements.length === 1 && s.left.kind !== 'concat')),
      ).length;
      const rule = {
        stmts: c.stmts,
        handle: t.nextHandle++,
        pos,
        ...(c.comment !== undefined ? { comment: c.comment } : {}),
      };
      let at: number;
      if (c.handle !== undefined) {
        // the kernel finds a position only among rules of earlier transactions (measured)
        const i = ch.rules.findIndex((r) => r.handle === c.handle && !fresh.has(r));
        if (i < 0) throw invalid(`no rule with handle ${c.handle} in chain ${c.chain}`, pos);
        at = c.op === 'add-rule' ? i + 1 : i;
      } else if (c.index !== undefined) {
        if (c.index >= ch.rules.length) throw invalid(`no rule at index ${c.index} in chain ${c.chain}`, pos);
        at = c.op === 'add-rule' ? c.index + 1 : c.index;
      } else at = c.op === 'add-rule' ? ch.rules.length : 0;
      ch.rules.splice(at, 0, rule);
      fresh.add(rule);
      return;
    }
    case 'delete-rule': {
      const ch = chainOf(table(rs, c, pos), c.chain, pos);
      const i = ch.rules.findIndex((r) => r.handle === c.handle);
      if (i < 0) throw byKernel(`no rule with handle ${c.handle} in chain ${c.chain}`, pos);
      ch.rules.splice(i, 1);
      return;
    }
  }
}

const r0 = (els: readonly { verdict?: unknown; data?: unknown }[]) => els.some((r) => r.verdict || r.data);

export interface NftReadOptions {
  file?: string;
  /** the state the transaction starts from (default: empty) */
  base?: NftRuleset;
  /** the text is a listing of the kernel's state (`nft -j list ruleset`), not input (checkRule) */
  listing?: boolean;
  /** `base` is the transaction's own copy: changed in place, so that its untouched objects keep their identity
   *  (transaction.ts follows elements through it); a refused text leaves it half-changed */
  inPlace?: boolean;
  /** read around what is outside the subset and list it here (spec/nft.md §3a) instead of refusing the file */
  problems?: InputError[];
}

/** A command, or with `problems` given a rule the model reads only in part: a rule refused as unsupported when it
 *  is added (an interface index other than lo, ...) is kept as one opaque statement. */
function runTolerant(rs: NftRuleset, c: Command, opts: NftReadOptions): void {
  try {
    runCommand(rs, c, opts.listing);
  } catch (e) {
    if (!opts.problems || !(e instanceof InputError) || e.kind !== 'unsupported') throw e;
    if (c.op !== 'add-rule' && c.op !== 'insert-rule') throw e;
    opts.problems.push(e);
    const opaque = { k: 'opaque' as const, text: c.src ?? '', why: e.reason };
    runCommand(rs, { ...c, stmts: [opaque], spos: [c.pos] }, opts.listing);
  }
}

/** The checks at commit (loops, depth, where nat and reject may run) are the kernel's. */
function atCommit(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof InputError && e.kind === 'invalid') kernelRefusals.add(e);
    throw e;
  }
}

/** `nft -f`: every command of the file, then the kernel's checks at commit; all or nothing. */
export function parseNft(text: string, opts: NftReadOptions = {}): NftRuleset {
  const file = opts.file ?? '<nft>';
  const rs = opts.base ? (opts.inPlace ? opts.base : cloneRuleset(opts.base)) : emptyNftRuleset();
  const cmds = parseNftCommands(text, file, opts.problems);
  for (const c of cmds) runTolerant(rs, c, opts);
  for (const t of rs.tables.values()) atCommit(() => validateNftTable(t, file));
  return rs;
}

/**
 * Every error of a file, for lint: a syntax error ends parsing (nft's parser recovers differently, so
 * only the first is certain); after a clean parse every refused command is reported, the rest still run.
 */
export function lintNft(text: string, opts: NftReadOptions = {}): { ruleset: NftRuleset; errors: InputError[] } {
  const file = opts.file ?? '<nft>';
  const rs = opts.base ? cloneRuleset(opts.base) : emptyNftRuleset();
  const errors: InputError[] = [];
  let cmds: Command[];
  try {
    cmds = parseNftCommands(text, file, opts.problems);
  } catch (e) {
    if (e instanceof InputError) return { ruleset: rs, errors: [e] };
    throw e;
  }
  for (const c of cmds) {
    try {
      runTolerant(rs, c, opts);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      errors.push(e);
    }
  }
  for (const t of rs.tables.values()) {
    try {
      atCommit(() => validateNftTable(t, file));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      errors.push(e);
    }
  }
  return { ruleset: rs, errors };
}
