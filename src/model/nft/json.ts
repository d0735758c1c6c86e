// `nft -j list ruleset` input (spec/nft.md §1): the JSON form read into the same AST as the text. Each JSON
// object becomes one `nft -f` command line, read by the one text parser (so the descriptor tables decide what
// is in the subset and every check of §4 applies); the kernel's handles are then taken from the JSON. An error
// names the file, the line and column of the JSON object and its JSON path. JSON schema: libnftables-json(5),
// nftables src/json.c (what 1.0.6 writes).
import { InputError } from '../errors.ts';
import { parseJson, jsonPosition, type JsonPath } from '../json.ts';
import { parseNft } from './apply.ts';
import { matchSelector } from './descriptors.ts';
import type { NftRuleset } from './types.ts';

type J = unknown;
const isObj = (v: J): v is Record<string, J> => typeof v === 'object' && v !== null && !Array.isArray(v);

class Unsupported extends Error {
  constructor(
    readonly path: JsonPath,
    msg: string,
  ) {
    super(msg);
  }
}
const unsupported = (path: JsonPath, what: string): never => {
  throw new Unsupported(path, what);
};

/** the single key of a JSON expression object ({"payload": {...}}) */
function only(v: J, path: JsonPath): [string, J] {
  if (!isObj(v)) return unsupported(path, `expected an expression object, not ${JSON.stringify(v)}`);
  const keys = Object.keys(v);
  if (keys.length !== 1) return unsupported(path, `expected one key, not ${keys.join(', ') || 'none'}`);
  return [keys[0]!, v[keys[0]!]];
}

const WORD = /^[A-Za-z0-9_.:/*-]+$/;
const str = (v: J, path: JsonPath): string => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return unsupported(path, `expected a string or a number, not ${JSON.stringify(v)}`);
};
const quoted = (s: string) => `"${s}"`;
/** a name (table, chain, set) as nft text takes it */
const name = (v: J, path: JsonPath): string => {
  const s = str(v, path);
  return WORD.test(s) ? s : quoted(s);
};

/** The left side of a match or a lookup key. */
function selectorText(v: J, path: JsonPath): string {
  const [k, body] = only(v, path);
  const at = [...path, k];
  let text: string;
  switch (k) {
    case 'payload': {
      if (!isObj(body) || body.protocol === undefined) return unsupported(at, 'raw payload expressions');
      text = `${str(body.protocol, [...at, 'protocol'])} ${str(body.field, [...at, 'field'])}`;
      break;
    }
    case 'meta':
    case 'ct':
      if (!isObj(body)) return unsupported(at, `${k} without a key`);
      if (k === 'ct' && (body.dir !== undefined || body.family !== undefined))
        return unsupported(at, 'ct with a direction');
      text = `${k} ${str(body.key, [...at, 'key'])}`;
      break;
    case 'fib': {
      if (!isObj(body) || !Array.isArray(body.flags) || body.result !== 'type')
        return unsupported(at, 'fib other than "fib daddr|saddr type"');
      text = `fib ${body.flags.map((f, i) => str(f, [...at, 'flags', i])).join(' . ')} type`;
      break;
    }
    case 'numgen': {
      if (!isObj(body) || (body.mode !== 'random' && body.mode !== 'inc'))
        return unsupported(at, 'numgen other than random or inc');
      const off = body.offset ? ` offset ${str(body.offset, [...at, 'offset'])}` : '';
      return `numgen ${body.mode} mod ${str(body.mod, [...at, 'mod'])}${off}`;
    }
    case 'concat': {
      if (!Array.isArray(body)) return unsupported(at, 'concat of what');
      return body.map((x, i) => selectorText(x, [...at, i])).join(' . ');
    }
    case '&': {
      if (!Array.isArray(body) || body.length !== 2) return unsupported(at, '& of what');
      return `${selectorText(body[0], [...at, 0])} & ${str(body[1], [...at, 1])}`;
    }
    default:
      return unsupported(at, `expression "${k}"`);
  }
  if (!matchSelector(text.split(' '))) unsupported(at, `selector "${text}"`);
  return text;
}

/** A value, prefix, range, set element or set on the right side. `ifname`: strings are interface names. */
function valueText(v: J, path: JsonPath, ifname: boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    if (v.startsWith('@')) return v;
    return ifname || !WORD.test(v) ? quoted(v) : v;
  }
  if (Array.isArray(v)) return v.map((x, i) => valueText(x, [...path, i], ifname)).join(',');
  const [k, body] = only(v, path);
  const at = [...path, k];
  switch (k) {
    case 'prefix':
      if (!isObj(body)) return unsupported(at, 'prefix of what');
      return `${str(body.addr, [...at, 'addr'])}/${str(body.len, [...at, 'len'])}`;
    case 'range':
      if (!Array.isArray(body) || body.length !== 2) return unsupported(at, 'range of what');
      return `${valueText(body[0], [...at, 0], ifname)}-${valueText(body[1], [...at, 1], ifname)}`;
    case 'concat':
      if (!Array.isArray(body)) return unsupported(at, 'concat of what');
      return body.map((x, i) => valueText(x, [...at, i], ifname)).join(' . ');
    case 'set': {
      if (!Array.isArray(body)) return unsupported(at, 'set of what');
      const els = body.map((x, i) => elementText(x, [...at, i], ifname));
      // the kernel holds an anonymous set of one element only when nft merged intervals into one (a set of
      // one written as such becomes a comparison before it reaches the kernel): written twice, it stays a
      // set, as nft lists it, and takes its handle
      return `{ ${(els.length === 1 ? [els[0], els[0]] : els).join(', ')} }`;
    }
    case '|': {
      // flags compared as a whole value: {"|": [{"|": ["a", "b"]}, "c"]} is "a | b | c"
      if (!Array.isArray(body) || body.length !== 2) return unsupported(at, '| of what');
      return `${valueText(body[0], [...at, 0], ifname)} | ${valueText(body[1], [...at, 1], ifname)}`;
    }
    default:
      return unsupported(at, `value "${k}"`);
  }
}

/** A value that is a range or prefix, or a concatenation with one. */
const isRange = (v: J): boolean =>
  isObj(v) && ('range' in v || 'prefix' in v || (Array.isArray(v.concat) && v.concat.some(isRange)));

/** A set element: a value, [key, verdict] in a verdict map, [key, value] in a data map. */
function elementText(v: J, path: JsonPath, ifname: boolean): string {
  if (Array.isArray(v) && v.length === 2 && isObj(v[1]) && VERDICTS.includes(Object.keys(v[1])[0] ?? ''))
    return `${elementText(v[0], [...path, 0], ifname)} : ${verdictText(v[1], [...path, 1])}`;
  if (Array.isArray(v) && v.length === 2)
    return `${elementText(v[0], [...path, 0], ifname)} : ${valueText(v[1], [...path, 1], false)}`;
  if (isObj(v) && 'elem' in v) {
    const e = v.elem;
    if (isObj(e) && 'val' in e && Object.keys(e).every((k) => ['val', 'timeout', 'expires', 'comment'].includes(k))) {
      // an element with its timeout, time left (seconds) and comment (src/json.c set_elem_expr_json)
      let text = valueText(e.val, [...path, 'elem', 'val'], ifname);
      if (e.timeout !== undefined) text += ` timeout ${str(e.timeout, [...path, 'elem', 'timeout'])}s`;
      if (e.expires !== undefined) text += ` expires ${str(e.expires, [...path, 'elem', 'expires'])}s`;
      if (e.comment !== undefined) text += ` comment ${quoted(str(e.comment, [...path, 'elem', 'comment']))}`;
      return text;
    }
    return unsupported([...path, 'elem'], 'set elements with counters');
  }
  return valueText(v, path, ifname);
}

const VERDICTS = ['accept', 'drop', 'return', 'continue', 'jump', 'goto'];
function verdictText(v: J, path: JsonPath): string {
  const [k, body] = only(v, path);
  if (!VERDICTS.includes(k)) return unsupported([...path, k], `verdict "${k}"`);
  if (k === 'jump' || k === 'goto') {
    if (!isObj(body)) return unsupported([...path, k], `${k} without a target`);
    return `${k} ${name(body.target, [...path, k, 'target'])}`;
  }
  return k;
}

const ifnameSel = (sel: string) => /^(meta )?(iif|oif|iifname|oifname)$/.test(sel);

/** {"map": {"key": KEY, "data": "@m" | {"set": [[k, v], ...]}}}: "KEY map @m" (a data map's lookup) */
function lookupText(v: J, path: JsonPath): string | undefined {
  if (!isObj(v) || !('map' in v) || !isObj(v.map)) return undefined;
  const at = [...path, 'map'];
  const key = selectorText(v.map.key, [...at, 'key']);
  return `${key} map ${valueText(v.map.data, [...at, 'data'], ifnameSel(key))}`;
}

function markValueText(v: J, path: JsonPath): string {
  if (typeof v === 'number' || typeof v === 'string') return str(v, path);
  const lookup = lookupText(v, path);
  if (lookup !== undefined) return lookup;
  const [k, body] = only(v, path);
  if (k === 'meta' || k === 'ct') return selectorText(v, path);
  if ((k === '|' || k === '&' || k === '^') && Array.isArray(body) && body.length === 2)
    return `${selectorText(body[0], [...path, k, 0])} ${k} ${str(body[1], [...path, k, 1])}`;
  return unsupported([...path, k], `a mark from "${k}"`);
}

const natFlags = (v: J, path: JsonPath): string =>
  (Array.isArray(v) ? v : [v]).map((x, i) => str(x, [...path, i])).join(',');

/** One statement of a rule's "expr" list. */
function stmtText(v: J, path: JsonPath): string {
  // nft 1.0.6 has no JSON for a map's add/update/delete ("stmt ops map have no json callback", measured): it writes
  // the statement as a string of its text
  if (typeof v === 'string')
    return unsupported(path, `a statement nft wrote as text ("${v}"): no JSON form in nft 1.0.6`);
  const [k, body] = only(v, path);
  const at = [...path, k];
  const b = isObj(body) ? body : {};
  switch (k) {
    case 'match': {
      const left = selectorText(b.left, [...at, 'left']);
      const right = valueText(b.right, [...at, 'right'], ifnameSel(left));
      const flagType = /^ct (state|status)$/.test(left);
      switch (b.op) {
        case 'in':
          return `${left} ${right}`;
        case '==':
          return flagType ? `${left} == ${right}` : `${left} ${right}`;
        case '!=':
          return `${left} != ${right}`;
        default:
          return unsupported([...at, 'op'], `the comparison ${JSON.stringify(b.op)}`);
      }
    }
    case 'counter':
      return body === null
        ? 'counter'
        : `counter packets ${str(b.packets ?? 0, [...at, 'packets'])} bytes ${str(b.bytes ?? 0, [...at, 'bytes'])}`;
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
    case 'jump':
    case 'goto':
      return verdictText(v, path);
    case 'mangle': {
      const key = selectorText(b.key, [...at, 'key']);
      if (key !== 'meta mark' && key !== 'ct mark') unsupported([...at, 'key'], `setting ${key}`);
      return `${key} set ${markValueText(b.value, [...at, 'value'])}`;
    }
    case 'dnat':
    case 'snat': {
      const fam = b.family !== undefined ? ` ${str(b.family, [...at, 'family'])}` : '';
      const port = b.port !== undefined ? `:${str(b.port, [...at, 'port'])}` : '';
      if (b.flags !== undefined) unsupported([...at, 'flags'], `${k} flags`);
      // "dnat to ip daddr map @m" (the address, or address and port, a data map holds)
      const addr = lookupText(b.addr, [...at, 'addr']) ?? str(b.addr, [...at, 'addr']);
      return `${k}${fam} to ${addr}${port}`;
    }
    case 'masquerade': {
      const port = b.port !== undefined ? ` to :${str(b.port, [...at, 'port'])}` : '';
      const flags = b.flags !== undefined ? ` ${natFlags(b.flags, [...at, 'flags'])}` : '';
      return `masquerade${port}${flags}`;
    }
    case 'notrack':
      return 'notrack';
    case 'log': {
      let s = 'log';
      if (b.prefix !== undefined) s += ` prefix ${quoted(str(b.prefix, [...at, 'prefix']))}`;
      if (b.level !== undefined) s += ` level ${str(b.level, [...at, 'level'])}`;
      if (b.flags !== undefined) s += ` flags ${natFlags(b.flags, [...at, 'flags'])}`;
      return s;
    }
    case 'reject': {
      if (body === null) return 'reject';
      if (b.type === 'tcp reset') return 'reject with tcp reset';
      const type = str(b.type, [...at, 'type']);
      return b.expr === undefined ? `reject with ${type}` : `reject with ${type} ${str(b.expr, [...at, 'expr'])}`;
    }
    case 'vmap': {
      const key = selectorText(b.key, [...at, 'key']);
      return `${key} vmap ${valueText(b.data, [...at, 'data'], ifnameSel(key))}`;
    }
    case 'set': {
      // "update|add|delete @s { ip saddr [timeout 10s] }" (src/json.c set_stmt_json: op, elem, set)
      if (b.op !== 'add' && b.op !== 'update' && b.op !== 'delete')
        return unsupported([...at, 'op'], `set statement "${String(b.op)}"`);
      const set = str(b.set, [...at, 'set']);
      let elem = b.elem;
      let timeout = '';
      if (isObj(elem) && 'elem' in elem && isObj(elem.elem)) {
        const e = elem.elem;
        if (e.timeout !== undefined) timeout = ` timeout ${str(e.timeout, [...at, 'elem', 'elem', 'timeout'])}s`;
        elem = e.val;
      }
      return `${b.op} ${set} { ${selectorText(elem, [...at, 'elem'])}${timeout} }`;
    }
    default:
      return unsupported(at, `statement "${k}"`);
  }
}

interface Line {
  text: string;
  path: JsonPath;
}

function objectLines(o: J, path: JsonPath): { lines: Line[]; handle?: { kind: string; at: JsonPath; h: number } } {
  const [k, body] = only(o, path);
  const at = [...path, k];
  if (k === 'metainfo') return { lines: [] };
  if (!isObj(body)) return unsupported(at, `${k} without its fields`);
  const fam = str(body.family, [...at, 'family']);
  const handle = typeof body.handle === 'number' ? { kind: k, at, h: body.handle } : undefined;
  const done = (text: string) => ({ lines: [{ text, path: at }], ...(handle ? { handle } : {}) });
  switch (k) {
    case 'table':
      return done(`add table ${fam} ${name(body.name, [...at, 'name'])}`);
    case 'chain': {
      const head = `add chain ${fam} ${name(body.table, [...at, 'table'])} ${name(body.name, [...at, 'name'])}`;
      const parts: string[] = [];
      if (body.type !== undefined) {
        parts.push(
          `type ${str(body.type, [...at, 'type'])} hook ${str(body.hook, [...at, 'hook'])} priority` +
            ` ${str(body.prio, [...at, 'prio'])};`,
        );
        if (body.policy !== undefined) parts.push(`policy ${str(body.policy, [...at, 'policy'])};`);
      }
      if (body.comment !== undefined) parts.push(`comment ${quoted(str(body.comment, [...at, 'comment']))};`);
      return done(parts.length ? `${head} { ${parts.join(' ')} }` : head);
    }
    case 'set':
    case 'map': {
      const types = (Array.isArray(body.type) ? body.type : [body.type]).map((t, i) => str(t, [...at, 'type', i]));
      // nft 1.0.6 writes no mark of a map's interval data ("type K : interval D"): its values being ranges or
      // prefixes tell it (an empty such map reads as one of single values; measured)
      const interval =
        k === 'map' && Array.isArray(body.elem) && body.elem.some((e) => Array.isArray(e) && isRange(e[1]));
      const data = k === 'map' ? ` : ${interval ? 'interval ' : ''}${str(body.map, [...at, 'map'])}` : '';
      const parts = [`type ${types.join(' . ')}${data};`];
      if (body.flags !== undefined) parts.push(`flags ${natFlags(body.flags, [...at, 'flags'])};`);
      // seconds (src/json.c set_print_json)
      if (body.timeout !== undefined) parts.push(`timeout ${str(body.timeout, [...at, 'timeout'])}s;`);
      if (body.size !== undefined) parts.push(`size ${str(body.size, [...at, 'size'])};`);
      if (body.comment !== undefined) parts.push(`comment ${quoted(str(body.comment, [...at, 'comment']))};`);
      if (Array.isArray(body.elem) && body.elem.length) {
        const ifname = types.includes('ifname');
        const els = body.elem.map((e, i) => elementText(e, [...at, 'elem', i], ifname));
        parts.push(`elements = { ${els.join(', ')} };`);
      }
      return done(
        `add ${k} ${fam} ${name(body.table, [...at, 'table'])} ${name(body.name, [...at, 'name'])}` +
          ` { ${parts.join(' ')} }`,
      );
    }
    case 'rule': {
      if (!Array.isArray(body.expr)) return unsupported([...at, 'expr'], 'a rule without "expr"');
      const stmts = body.expr.map((x, i) => stmtText(x, [...at, 'expr', i]));
      const comment = body.comment !== undefined ? ` comment ${quoted(str(body.comment, [...at, 'comment']))}` : '';
      return done(
        `add rule ${fam} ${name(body.table, [...at, 'table'])} ${name(body.chain, [...at, 'chain'])}` +
          ` ${stmts.join(' ')}${comment}`,
      );
    }
    default:
      return unsupported(at, `object "${k}"`);
  }
}

/** Reads `nft -j list ruleset` output. */
export function parseNftJson(text: string, file = '<nft.json>'): NftRuleset {
  const root = parseJson(text, file, 'nft JSON');
  const at = (path: JsonPath) => ({ file, ...jsonPosition(text, path), jsonPath: path });
  if (!isObj(root) || !Array.isArray(root.nftables))
    throw new InputError('invalid', 'expected {"nftables": [...]} (nft -j list ruleset)', { file, line: 1, col: 1 });
  const lines: Line[] = [];
  const handles: { kind: string; at: JsonPath; h: number; line: number }[] = [];
  // tables, then chains, then sets and maps (verdict maps name chains), then rules: every name exists before use
  const rank: Record<string, number> = { metainfo: 0, table: 0, chain: 1, set: 2, map: 2, rule: 3 };
  const objs = root.nftables.map((o, i) => ({ o, i, r: isObj(o) ? (rank[Object.keys(o)[0] ?? ''] ?? 4) : 4 }));
  objs.sort((a, b) => a.r - b.r || a.i - b.i);
  try {
    for (const { o, i } of objs) {
      const r = objectLines(o, ['nftables', i]);
      for (const l of r.lines) lines.push(l);
      if (r.handle) handles.push({ ...r.handle, line: lines.length });
    }
  } catch (e) {
    if (e instanceof Unsupported) throw new InputError('unsupported', e.message, at(e.path));
    throw e;
  }
  let rs: NftRuleset;
  try {
    rs = parseNft(lines.map((l) => l.text).join('\n') + '\n', { file, listing: true });
  } catch (e) {
    if (!(e instanceof InputError) || !e.pos) throw e;
    const l = lines[e.pos.line - 1];
    throw l ? e.at(at(l.path)) : e;
  }
  applyHandles(rs, root.nftables, handles);
  return rs;
}

/** The kernel's handles, as the JSON gives them, in place of the ones the transaction would have made. */
function applyHandles(rs: NftRuleset, objs: J[], handles: { kind: string; at: JsonPath; h: number }[]): void {
  const next = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const { kind, at, h } of handles) {
    if (kind === 'table') continue; // tables count their own handles
    const body = (objs[at[1] as number] as Record<string, Record<string, J>>)[kind]!;
    const tkey = `${String(body.family)} ${String(kind === 'table' ? body.name : body.table)}`;
    const t = rs.tables.get(tkey);
    if (!t) continue;
    next.set(tkey, Math.max(next.get(tkey) ?? 0, h + 1));
    if (kind === 'chain') {
      const c = t.chains.get(String(body.name));
      if (c) c.handle = h;
    } else if (kind === 'set' || kind === 'map') {
      const s = t.sets.get(String(body.name));
      if (s) s.handle = h;
    } else if (kind === 'rule') {
      const ckey = `${tkey} ${String(body.chain)}`;
      const i = seen.get(ckey) ?? 0;
      seen.set(ckey, i + 1);
      const r = t.chains.get(String(body.chain))?.rules[i];
      if (r) r.handle = h;
    }
  }
  for (const [k, n] of next) {
    const t = rs.tables.get(k)!;
    t.nextHandle = Math.max(t.nextHandle, n);
  }
}
