// Prints a ruleset exactly as `nft list ruleset` (nftables 1.0.6) does (spec/nft.md §5), including
// what nft changes on the way back from the kernel: protocol dependencies dropped ("meta l4proto tcp
// th dport 80" lists as "tcp dport 80"), adjacent port matches merged and listed in header order,
// defaults left out, values in canonical form.
import { DTYPES, type DtypeDesc } from './datatypes.ts';
import { selector, NAMED_PRIORITIES } from './descriptors.ts';
import { canonicalElements } from './sets.ts';
import { exprDtypes } from './apply.ts';
import type {
  NftRuleset,
  NftTable,
  NftChain,
  NftSet,
  NftRule,
  Stmt,
  Expr,
  Value,
  Element,
  Verdict,
  NftHook,
} from './types.ts';

export function printPriority(prio: number, hook: NftHook): string {
  for (const p of NAMED_PRIORITIES) {
    if (p.hooks && !p.hooks.includes(hook)) continue;
    const d = prio - p.value;
    if (d === 0) return p.name;
    if (d >= -10 && d <= 10) return `${p.name} ${d < 0 ? '-' : '+'} ${Math.abs(d)}`;
  }
  return String(prio);
}

function printValue(v: Value, dt: DtypeDesc): string {
  switch (v.kind) {
    case 'value':
      return dt.print(v.v);
    case 'prefix':
      return `${dt.print(v.v)}/${v.len}`;
    case 'range':
      return `${dt.print(v.lo)}-${dt.print(v.hi)}`;
    case 'flags':
      return dt.print(v.v);
  }
}

export function printVerdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

function printElement(e: Element, dts: readonly DtypeDesc[]): string {
  const k = e.key.map((v, i) => printValue(v, dts[i]!)).join(' . ');
  return e.verdict ? `${k} : ${printVerdict(e.verdict)}` : k;
}

/** A named set's "elements = { ... }": nft breaks lines after perLine elements (src/expression.c). */
function printNamedElements(s: NftSet): string {
  const dts = s.key.map((k) => DTYPES[k]);
  const { elements } = canonicalElements(s.elements, s.key, false);
  const perLine = s.key.length > 1 ? 0 : dts[0]!.perLine;
  let out = '{ ';
  let count = 0;
  elements.forEach((e, i) => {
    if (i > 0) {
      count++;
      if (perLine > 0 && count < perLine) out += ', ';
      else {
        out += ',\n\t\t\t     ';
        count = 0;
      }
    }
    out += printElement(e, dts);
  });
  return `${out} }`;
}

function printAnon(els: readonly Element[], dts: readonly DtypeDesc[], autoMerge: boolean): string {
  const { elements } = canonicalElements(
    els,
    dts.map((d) => d.name),
    autoMerge,
  );
  return `{ ${elements.map((e) => printElement(e, dts)).join(', ')} }`;
}

function exprText(e: Expr, l4: (name: string) => string): string {
  switch (e.kind) {
    case 'sel':
      return l4(e.name);
    case 'concat':
      return e.parts.map(l4).join(' . ');
    case 'numgen':
      return `numgen random mod ${e.mod}${e.offset ? ` offset ${e.offset}` : ''}`;
    case 'and':
      return `${l4(e.name)} & ${DTYPES.mark.print(e.mask)}`;
  }
}

interface Ctx {
  family: NftTable['family'];
}

type Item = { stmt: Stmt; text?: string };

const isPortEq = (s: Stmt): s is Extract<Stmt, { k: 'match' }> =>
  s.k === 'match' &&
  s.op === 'eq' &&
  s.left.kind === 'sel' &&
  selector(s.left.name).payload?.base === 'transport' &&
  s.right.kind === 'values' &&
  s.right.value.kind === 'value';

const isDep = (s: Stmt): number | undefined =>
  s.k === 'match' &&
  s.op === 'eq' &&
  s.left.kind === 'sel' &&
  selector(s.left.name).field === 'l4proto' &&
  s.right.kind === 'values' &&
  s.right.value.kind === 'value'
    ? (s.right.value.v as number)
    : undefined;

/** The statements of a rule as nft lists them. */
export function printRuleBody(r: NftRule, ctx: Ctx): string {
  const stmts = r.stmts;
  const drop = new Set<number>();
  let proto: number | undefined;
  let pendingDep: number | undefined;
  // protocol context: a later transport expression consumes the dependency and names the protocol
  stmts.forEach((s, i) => {
    const dep = isDep(s);
    if (dep !== undefined && (dep === 6 || dep === 17)) {
      if (proto === undefined) pendingDep = i;
      proto ??= dep;
    }
    if (s.k === 'reject' && s.with?.type === 'tcp-reset' && pendingDep !== undefined && proto === 6) {
      drop.add(pendingDep);
      pendingDep = undefined;
    }
    // a statement between the dependency and its user keeps the dependency (measured with nft 1.0.6)
    if (s.k !== 'match' && s.k !== 'vmap') pendingDep = undefined;
    const exprs = s.k === 'match' ? [s.left] : s.k === 'vmap' ? [s.key] : [];
    for (const e of exprs) {
      if (e.kind !== 'sel') continue;
      const l4 = selector(e.name).l4;
      if (!l4) continue;
      if (l4 === 'tcp' || l4 === 'udp') proto ??= l4 === 'tcp' ? 6 : 17;
      if (pendingDep !== undefined && proto !== undefined) {
        drop.add(pendingDep);
        pendingDep = undefined;
      }
    }
  });
  const protoName = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : undefined;
  const l4name = (name: string) => {
    const d = selector(name);
    if (d.l4 && protoName && d.l4 !== protoName) return `${protoName} ${name.split(' ')[1]}`;
    return d.name;
  };
  // adjacent-in-effect port equalities are merged into one load and listed by header offset
  const ports = stmts.map((s, i) => (isPortEq(s) ? i : -1)).filter((i) => i >= 0);
  const items: Item[] = [];
  let mergedAt = -1;
  let merged: string | undefined;
  if (ports.length === 2) {
    const [a, b] = ports.map((i) => stmts[i] as Extract<Stmt, { k: 'match' }>) as [
      Extract<Stmt, { k: 'match' }>,
      Extract<Stmt, { k: 'match' }>,
    ];
    const oa = selector((a.left as { name: string }).name).payload!.offset;
    const ob = selector((b.left as { name: string }).name).payload!.offset;
    if (oa !== ob) {
      const [lo, hi] = oa < ob ? [a, b] : [b, a];
      const lv = (lo.right as { value: { v: number } }).value.v;
      const hv = (hi.right as { value: { v: number } }).value.v;
      mergedAt = ports[1]!;
      drop.add(ports[0]!);
      const loName = l4name((lo.left as { name: string }).name);
      const hiName = l4name((hi.left as { name: string }).name);
      merged = loName.startsWith('th ')
        ? `@th,0,32 0x${((lv * 65536 + hv) >>> 0).toString(16)}`
        : `${loName} ${lv} ${hiName} ${hv}`;
    }
  }
  stmts.forEach((s, i) => {
    if (i === mergedAt) items.push({ stmt: s, text: merged! });
    else if (!drop.has(i)) items.push({ stmt: s });
  });
  const parts = items.map((it) => it.text ?? printStmt(it.stmt, ctx, l4name));
  if (r.comment !== undefined) parts.push(`comment "${r.comment}"`);
  return parts.join(' ');
}

function printStmt(s: Stmt, ctx: Ctx, l4name: (n: string) => string): string {
  switch (s.k) {
    case 'match': {
      const dts = exprDtypes(s.left).map((d) => DTYPES[d]);
      const left = exprText(s.left, l4name);
      let right: string;
      if (s.right.kind === 'ref') right = `@${s.right.name}`;
      else if (s.right.kind === 'set') {
        if (s.right.elements.length === 1 && dts.length === 1)
          right = printValue(s.right.elements[0]!.key[0]!, dts[0]!);
        else right = printAnon(s.right.elements, dts, true);
      } else {
        const v = s.right.value;
        const dt = dts[0]!;
        if (v.kind === 'flags' && s.op === 'ne') {
          right = dt.print(v.v).split(',').join(' | ');
        } else if (v.kind === 'prefix' && v.len === dt.bits) right = dt.print(v.v);
        else right = printValue(v, dt);
      }
      const op = s.op === 'ne' ? '!= ' : s.left.kind === 'and' ? '== ' : '';
      return `${left} ${op}${right}`;
    }
    case 'vmap': {
      const dts = exprDtypes(s.key).map((d) => DTYPES[d]);
      const map = s.map.kind === 'ref' ? `@${s.map.name}` : printAnon(s.map.elements, dts, false);
      return `${exprText(s.key, l4name)} vmap ${map}`;
    }
    case 'counter':
      return `counter packets ${s.packets} bytes ${s.bytes}`;
    case 'mark': {
      const src = s.value;
      const v =
        src.kind === 'const'
          ? DTYPES.mark.print(src.v)
          : `${src.from === 'meta' ? 'meta mark' : 'ct mark'}${src.op ? ` ${src.op} ${DTYPES.mark.print(src.v!)}` : ''}`;
      return `${s.target === 'meta' ? 'meta mark' : 'ct mark'} set ${v}`;
    }
    case 'nat': {
      const fam = ctx.family === 'inet' ? ' ip' : '';
      return `${s.type}${fam} to ${DTYPES.ipv4_addr.print(s.addr)}${s.port !== undefined ? `:${s.port}` : ''}`;
    }
    case 'masquerade': {
      const order = ['random', 'fully-random', 'persistent'];
      const flags = order.filter((f) => s.flags.includes(f));
      return [
        'masquerade',
        ...(s.port !== undefined ? [`to :${s.port}`] : []),
        ...(flags.length ? [flags.join(',')] : []),
      ].join(' ');
    }
    case 'notrack':
      return 'notrack';
    case 'log': {
      const out = ['log'];
      if (s.prefix !== undefined) out.push(`prefix "${s.prefix}"`);
      if (s.level !== undefined && s.level !== 'warn') out.push(`level ${s.level}`);
      if (s.flags) out.push(`flags ${s.flags}`);
      return out.join(' ');
    }
    case 'reject': {
      const w = s.with;
      if (!w) return 'reject';
      if (w.type === 'tcp-reset') return 'reject with tcp reset';
      const dflt = ctx.family === 'ip' ? w.type === 'icmp' : w.type === 'icmpx';
      if (dflt && w.code === 'port-unreachable') return 'reject';
      return `reject with ${w.type} ${w.code}`;
    }
    case 'verdict':
      return printVerdict(s.v);
  }
}

function printSet(s: NftSet): string {
  const lines = [`\t${s.map ? 'map' : 'set'} ${s.name} {`];
  const key = s.key.map((k) => DTYPES[k].setType).join(' . ');
  lines.push(`\t\ttype ${key}${s.map ? ` : ${s.data ?? 'verdict'}` : ''}`);
  if (s.interval) lines.push('\t\tflags interval');
  if (s.comment !== undefined) lines.push(`\t\tcomment "${s.comment}"`);
  if (s.elements.length) lines.push(`\t\telements = ${printNamedElements(s)}`);
  lines.push('\t}');
  return lines.join('\n');
}

function printChain(c: NftChain, ctx: Ctx): string {
  const lines = [`\tchain ${c.name} {`];
  if (c.comment !== undefined) lines.push(`\t\tcomment "${c.comment}"`);
  if (c.base)
    lines.push(
      `\t\ttype ${c.base.type} hook ${c.base.hook} priority ${printPriority(c.base.priority, c.base.hook)}; policy ${c.base.policy};`,
    );
  for (const r of c.rules) lines.push(`\t\t${printRuleBody(r, ctx)}`);
  lines.push('\t}');
  return lines.join('\n');
}

export function printNftTable(t: NftTable): string {
  const ctx: Ctx = { family: t.family };
  const head = [`table ${t.family} ${t.name} {`];
  if (t.comment !== undefined) head.push(`\tcomment "${t.comment}"`);
  const objs = [...[...t.sets.values()].map(printSet), ...[...t.chains.values()].map((c) => printChain(c, ctx))];
  return [...head, ...(objs.length ? [objs.join('\n\n')] : []), '}'].join('\n');
}

/** `nft list ruleset`. */
export function printNft(rs: NftRuleset): string {
  const tables = [...rs.tables.values()];
  return tables.length ? tables.map(printNftTable).join('\n') + '\n' : '';
}
