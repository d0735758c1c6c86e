// Value kinds of iptables options: each knows how to parse, print (canonically,
// as iptables-save prints it) and generate itself. Descriptors refer to kinds by name.
// fast-check is passed in, not imported: the parser (and so `nfconform lint`) must not pay its load.
import type FastCheck from 'fast-check';
export type FC = typeof FastCheck;
import { type Cidr, formatCidr, formatIp, maskOf, type U32 } from '../ip.ts';
import { parseCNumber, parsePortText, serviceToPort } from './netdb.ts';
import { parseHostMask, parseDotted, maskLen, type AddrMask } from './addr.ts';
import { MODULE_KINDS, type SetRef } from './kinds-modules.ts';
import { MODULE_MORE_KINDS } from './kinds-modules-more.ts';
import type { Accounts } from './accounts.ts';

export type NumRange = readonly [number, number];
export interface MarkMask {
  value: U32;
  mask: U32;
}
export interface TcpFlags {
  mask: number;
  comp: number;
}
/** type 255 means "any"; codes are an inclusive range */
export interface IcmpType {
  type: number;
  codeLo: number;
  codeHi: number;
}
export interface NatRange {
  minIp?: U32;
  maxIp?: U32;
  minPort?: number;
  maxPort?: number;
}

export type OptValue =
  | true
  | string
  | number
  | NumRange
  | readonly NumRange[]
  | Cidr
  | MarkMask
  | TcpFlags
  | IcmpType
  | NatRange
  | SetRef
  | readonly string[];

/** What a value's parser may depend on, as in the iptables extension that reads it. */
export interface ParseContext {
  /** the extension the option belongs to */
  ext: string;
  /** the rule's -p at the point the option is read (negated or not), as libxt_* see it */
  proto: number | undefined;
  protoNeg: boolean;
  /** inclusive bounds of a number option (xt_option_entry .min/.max) */
  range?: readonly [number, number];
  /** the user and group names of the machine the rules are for (owner; default: accounts.ts BASE_ACCOUNTS) */
  accounts?: Accounts;
}

/** A kind: `parse` returns the value, or a string saying what is wrong. */
export interface Kind<V extends OptValue> {
  /** number of arguments the option takes */
  arity: 0 | 1 | 2;
  parse(args: readonly string[], ctx?: ParseContext): V | { error: string };
  print(v: V): string[];
  /** generates values; `fc` is fast-check, given by the caller (src/conform/arbitraries.ts) */
  arb(fc: FC): FastCheck.Arbitrary<V>;
}

const err = (error: string) => ({ error });

/** xtables_getportbyname (getaddrinfo): a decimal number, or a service of any protocol. */
function portByName(t: string): number | undefined {
  if (/^[ \t]*\+?\d+$/.test(t)) {
    // getaddrinfo takes any decimal and keeps its low 16 bits (htons): 65536 is port 0 (measured)
    const n = Number(t.trim());
    return Number.isSafeInteger(n) && n <= 0xffffffff ? n & 0xffff : undefined;
  }
  if (t === '') return 0;
  return serviceToPort(t, undefined);
}

/** Port ranges as each extension reads them (libxt_tcp/sctp parse_*_ports; XTTYPE_PORTRC for udp, conntrack). */
export function parsePortRange(t: string, ctx?: ParseContext): NumRange | { error: string } {
  const ext = ctx?.ext ?? 'tcp';
  if (ext === 'tcp' || ext === 'sctp') {
    const one = (x: string) => parsePortText(x, ext);
    const i = t.indexOf(':');
    if (i < 0) {
      const p = one(t);
      return p === undefined ? err(`invalid port/service \`${t}' specified`) : [p, p];
    }
    const a = t.slice(0, i);
    const b = t.slice(i + 1);
    const lo = a === '' ? 0 : one(a);
    const hi = b === '' ? 65535 : one(b);
    if (lo === undefined) return err(`invalid port/service \`${a}' specified`);
    if (hi === undefined) return err(`invalid port/service \`${b}' specified`);
    if (lo > hi) return err('invalid portrange (min > max)');
    return [lo, hi];
  }
  const parts = t.split(':');
  if (parts.length > 2) return err(`Too many components (max: 2)`);
  const vals: number[] = [];
  for (const [k, x] of parts.entries()) {
    if (x === '' && (parts.length > 1 || k > 0)) {
      vals.push(k === 1 ? 65535 : 0);
      continue;
    }
    const p = portByName(x);
    if (p === undefined) return err(`Port "${x}" does not resolve to anything.`);
    vals.push(p);
  }
  // no order check here (xtopt_parse_mport): a reversed range is kept and matches nothing
  return vals.length === 1 ? [vals[0]!, vals[0]!] : [vals[0]!, vals[1]!];
}

const printRange = (r: NumRange, sep = ':') => (r[0] === r[1] ? `${r[0]}` : `${r[0]}${sep}${r[1]}`);
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

function parseU32(t: string): number | undefined {
  return parseCNumber(t, 0xffffffff);
}

/** xtables_parse_mark_mask: value[/mask], C numbers. */
function parseMarkMask(t: string): MarkMask | undefined {
  const i = t.indexOf('/');
  const value = parseU32(i < 0 ? t : t.slice(0, i));
  const mask = i < 0 ? 0xffffffff : parseU32(t.slice(i + 1));
  return value === undefined || mask === undefined ? undefined : { value, mask };
}

/** The first name of `names` that the input is a case-insensitive prefix of (strncasecmp(name, in, len(in))). */
function prefixPick(names: readonly string[], input: string): string | undefined {
  const low = input.toLowerCase();
  return names.find((n) => n.toLowerCase().startsWith(low));
}

const arbPort = (fc: FC) => fc.integer({ min: 0, max: 65535 });
const arbRange = (fc: FC): FastCheck.Arbitrary<NumRange> =>
  fc.tuple(arbPort(fc), arbPort(fc)).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as NumRange);
const arbIp = (fc: FC) => fc.nat({ max: 0xffffffff });
const arbCidr = (fc: FC): FastCheck.Arbitrary<Cidr> =>
  fc
    .record({ addr: arbIp(fc), len: fc.integer({ min: 0, max: 32 }) })
    .map((c) => ({ addr: (c.addr & maskOf(c.len)) >>> 0, len: c.len }));

/** `iptables-save` quoting: bare when only [A-Za-z0-9_-], otherwise quoted with \" \\ \' escaped. */
export function saveString(s: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(s)) return s;
  return `"${s.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}

export const TCP_FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'] as const;
function parseTcpFlagList(t: string): number | undefined {
  let m = 0;
  for (const name of t.split(',').filter((x) => x !== '')) {
    const up = name.toUpperCase();
    if (up === 'ALL') m |= 0x3f;
    else if (up !== 'NONE') {
      const i = TCP_FLAG_NAMES.indexOf(up as (typeof TCP_FLAG_NAMES)[number]);
      if (i < 0) return undefined;
      m |= 1 << i;
    }
  }
  return m;
}
function printTcpFlagList(m: number): string {
  if (m === 0) return 'NONE';
  return TCP_FLAG_NAMES.filter((_, i) => m & (1 << i)).join(',');
}

/** libxt_icmp.h icmp_codes, in its order (input may be any unambiguous case-insensitive prefix). */
export const ICMP_TYPE_NAMES: readonly (readonly [string, number, number, number])[] = [
  ['any', 255, 0, 255],
  ['echo-reply', 0, 0, 255],
  ['pong', 0, 0, 255],
  ['destination-unreachable', 3, 0, 255],
  ['network-unreachable', 3, 0, 0],
  ['host-unreachable', 3, 1, 1],
  ['protocol-unreachable', 3, 2, 2],
  ['port-unreachable', 3, 3, 3],
  ['fragmentation-needed', 3, 4, 4],
  ['source-route-failed', 3, 5, 5],
  ['network-unknown', 3, 6, 6],
  ['host-unknown', 3, 7, 7],
  ['network-prohibited', 3, 9, 9],
  ['host-prohibited', 3, 10, 10],
  ['TOS-network-unreachable', 3, 11, 11],
  ['TOS-host-unreachable', 3, 12, 12],
  ['communication-prohibited', 3, 13, 13],
  ['host-precedence-violation', 3, 14, 14],
  ['precedence-cutoff', 3, 15, 15],
  ['source-quench', 4, 0, 255],
  ['redirect', 5, 0, 255],
  ['network-redirect', 5, 0, 0],
  ['host-redirect', 5, 1, 1],
  ['TOS-network-redirect', 5, 2, 2],
  ['TOS-host-redirect', 5, 3, 3],
  ['echo-request', 8, 0, 255],
  ['ping', 8, 0, 255],
  ['router-advertisement', 9, 0, 255],
  ['router-solicitation', 10, 0, 255],
  ['time-exceeded', 11, 0, 255],
  ['ttl-exceeded', 11, 0, 255],
  ['ttl-zero-during-transit', 11, 0, 0],
  ['ttl-zero-during-reassembly', 11, 1, 1],
  ['parameter-problem', 12, 0, 255],
  ['ip-header-bad', 12, 0, 0],
  ['required-option-missing', 12, 1, 1],
  ['timestamp-request', 13, 0, 255],
  ['timestamp-reply', 14, 0, 255],
  ['address-mask-request', 17, 0, 255],
  ['address-mask-reply', 18, 0, 255],
];

/** ipt_parse_icmp (libxt_icmp.h __parse_icmp): a name prefix, or TYPE[/CODE[:CODE]] (no type ranges). */
function parseIcmp(t: string): IcmpType | { error: string } {
  const low = t.toLowerCase();
  const hits = ICMP_TYPE_NAMES.filter(([n]) => n.toLowerCase().startsWith(low));
  if (hits.length > 1) return err(`Ambiguous ICMP type \`${t}': \`${hits[0]![0]}' or \`${hits[1]![0]}'?`);
  if (hits.length === 1) return { type: hits[0]![1], codeLo: hits[0]![2], codeHi: hits[0]![3] };
  const range = (x: string): [number, number, string] | undefined => {
    const m = /^([ \t]*\+?(?:0[xX][0-9a-fA-F]+|\d+))(?::([ \t]*\+?(?:0[xX][0-9a-fA-F]+|\d+)))?/.exec(x);
    if (!m) return undefined;
    const a = parseCNumber(m[1]!, 255);
    const b = m[2] === undefined ? a : parseCNumber(m[2], 255);
    return a === undefined || b === undefined ? undefined : [a, b, x.slice(m[0].length)];
  };
  const ty = range(t);
  if (!ty) return err(`Unknown ICMP type \`${t}'`);
  if (ty[0] !== ty[1]) return err('ICMP type range not supported');
  if (ty[2] === '') return { type: ty[0], codeLo: 0, codeHi: 255 };
  if (!ty[2].startsWith('/')) return err(`unknown character ${ty[2][0]}`);
  const co = range(ty[2].slice(1));
  if (!co) return err(`Unknown ICMP code \`${t}'`);
  if (co[2] !== '') return err(`unknown character ${co[2][0]}`);
  return { type: ty[0], codeLo: co[0], codeHi: co[1] };
}

/** A set of names printed in a fixed canonical order (conntrack states, address types). */
function nameSet(order: readonly string[], parseOrder: readonly string[] = order, min = 1): Kind<readonly string[]> {
  return {
    arity: 1,
    parse: ([t]) => {
      // each item may be any case-insensitive prefix; the first name in the parser's order wins
      const got = new Set<string>();
      for (const i of t!.split(',')) {
        const n = i === '' ? undefined : prefixPick(parseOrder, i);
        if (!n) return err(`bad value "${i}" (expected ${order.join(', ')})`);
        got.add(n);
      }
      return order.filter((o) => got.has(o));
    },
    print: (v) => [v.join(',')],
    arb: (fc) => fc.subarray([...order], { minLength: min }),
  };
}
// libxt_conntrack conntrack_ps_state tries the names in this order
const CT_PARSE_ORDER = ['INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED', 'SNAT', 'DNAT'];

export const CT_STATES = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'] as const;
export const ADDR_TYPES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
] as const;

/** libxt_NAT.c parse_ports: PORT[-PORT] (a service name only alone), never port:port. */
function parseNatPorts(arg: string, r: NatRange): string | undefined {
  const m = /^([ \t]*\+?(?:0[xX][0-9a-fA-F]+|\d+))(.*)$/.exec(arg);
  let port: number | undefined;
  let end: string;
  if (m && parseCNumber(m[1]!, 65535) !== undefined) {
    port = parseCNumber(m[1]!, 65535)!;
    end = m[2]!;
  } else {
    port = serviceToPort(arg, undefined);
    if (port === undefined) return `Port \`${arg}' not valid`;
    end = '';
  }
  if (end === '') {
    r.minPort = r.maxPort = port;
    return undefined;
  }
  if (end.startsWith(':')) return 'Invalid port:port syntax - use dash';
  if (!end.startsWith('-')) return `Garbage after port value: \`${end}'`;
  const hi = end.slice(1);
  const max = parseCNumber(hi, 65535);
  if (max === undefined) return `Port \`${hi}' not valid`;
  if (max < port) return `Port range \`${hi}' funky`;
  r.minPort = port;
  r.maxPort = max;
  return undefined;
}

const NAT_PORT_OK = [6, 17, 132, 33, 1];

/** libxt_NAT.c parse_to: IP[-IP][:PORT[-PORT]] or :PORTS; ports need -p tcp/udp/sctp/dccp/icmp given before. */
function parseNatRange(t: string, withIp: boolean, ctx?: ParseContext): NatRange | { error: string } {
  const portOk = ctx?.proto !== undefined && NAT_PORT_OK.includes(ctx.proto);
  const r: NatRange = {};
  if (!withIp) {
    if (!portOk) return err('Need TCP, UDP, SCTP or DCCP with port specification');
    const e = parseNatPorts(t, r);
    return e ? err(e) : r;
  }
  let colon = t.indexOf(':');
  if (colon >= 0 && t.indexOf(':', colon + 1) >= 0) colon = -1;
  if (colon >= 0) {
    if (!portOk) return err('Need TCP, UDP, SCTP or DCCP with port specification');
    const e = parseNatPorts(t.slice(colon + 1), r);
    if (e) return err(e);
    if (colon === 0) return r;
  }
  const ipPart = colon >= 0 ? t.slice(0, colon) : t;
  const dash = ipPart.indexOf('-');
  const a = dash >= 0 ? ipPart.slice(0, dash) : ipPart;
  const lo = parseDotted(a);
  if (lo === undefined) return err(`Bad IP address "${a}"`);
  const hi = dash >= 0 ? parseDotted(ipPart.slice(dash + 1)) : lo;
  if (hi === undefined) return err(`Bad IP address "${ipPart.slice(dash + 1)}"`);
  r.minIp = lo;
  r.maxIp = hi;
  return r;
}
function printNatRange(r: NatRange): string {
  let s = '';
  if (r.minIp !== undefined) s = r.minIp === r.maxIp ? formatIp(r.minIp) : `${formatIp(r.minIp)}-${formatIp(r.maxIp!)}`;
  if (r.minPort !== undefined) {
    const p = r.minPort === r.maxPort ? `${r.minPort}` : `${r.minPort}-${r.maxPort}`;
    s = r.minIp !== undefined ? `${s}:${p}` : p;
  }
  return s;
}
const arbPortPair = (fc: FC) =>
  fc.option(
    arbRange(fc).filter((r) => r[0] > 0),
    { nil: undefined },
  );

export const KINDS = {
  flag: { arity: 0, parse: () => true, print: () => [], arb: (fc) => fc.constant(true) } satisfies Kind<true>,
  string: {
    arity: 1,
    // XTTYPE_STRING: longer text is cut to the field (comment 256, LOG prefix 30, ...), as libxtables does
    parse: ([t], ctx) => {
      const [min, max] = ctx?.range ?? [0, 255];
      if (t!.length < min) return err(`Argument must have a minimum length of ${min} characters`);
      return t!.slice(0, max);
    },
    print: (v) => [saveString(v)],
    arb: (fc) => fc.string({ minLength: 0, maxLength: 20 }).filter((s) => !s.includes('\n') && !s.includes('\0')),
  } satisfies Kind<string>,
  /** recent --name: printed as is, unquoted (libxt_recent.c recent_save) */
  rawString: {
    arity: 1,
    parse: ([t], ctx) => t!.slice(0, (ctx?.range ?? [0, 255])[1]),
    print: (v) => [v],
    arb: (fc) => fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
  } satisfies Kind<string>,
  /** nfacct --nfacct-name: NFACCT_NAME_MAX is 32 with the NUL, and libxt_nfacct silently keeps the first 31
   * characters; iptables-save prints it after two spaces (libxt_nfacct.c nfacct_print_name) */
  nfacctName: {
    arity: 1,
    parse: ([t]) => (t!.length === 0 ? err('Argument must have a minimum length of 1 characters') : t!.slice(0, 31)),
    print: (v) => [` ${saveString(v)}`],
    arb: (fc) => fc.stringMatching(/^[a-z][a-z0-9_]{0,30}$/),
  } satisfies Kind<string>,
  /** printed with the /len even for /32, as -s and -d are */
  cidr: {
    arity: 1,
    parse: ([t]) => toCidr(parseHostMask(t!)),
    print: (v) => [formatCidr(v, true)],
    arb: arbCidr,
  } satisfies Kind<Cidr>,
  /** printed without /32, as conntrack --ctorigdst is */
  cidrShort: {
    arity: 1,
    // XTTYPE_HOSTMASK (conntrack): the address keeps its host bits, as iptables-save shows
    parse: ([t]) => toCidr(parseHostMask(t!)),
    print: (v) => [formatCidr(v, false)],
    arb: arbCidr,
  } satisfies Kind<Cidr>,
  /** XTTYPE_HOST (recent --mask): one address, no /mask; printed dotted */
  host: {
    arity: 1,
    parse: ([t]) => {
      if (t!.includes('/')) return err('getaddrinfo: Name or service not known');
      return toCidr(parseHostMask(t!));
    },
    print: (v) => [formatIp(v.addr)],
    arb: (fc) => arbIp(fc).map((addr) => ({ addr, len: 32 })),
  } satisfies Kind<Cidr>,
  uint: {
    arity: 1,
    // xtopt_parse_int: a C number (0x hex, 0 octal) within the option's bounds
    parse: ([t], ctx) => {
      const [min, max] = ctx?.range ?? [0, 0xffffffff];
      const n = parseCNumber(t!, max);
      return n === undefined || n < min ? err(`bad value "${t}", or out of range (${min}-${max})`) : n;
    },
    print: (v) => [`${v}`],
    arb: (fc) => fc.integer({ min: 1, max: 100000 }),
  } satisfies Kind<number>,
  hex32: {
    arity: 1,
    parse: ([t]) => parseU32(t!) ?? err(`bad 32-bit value "${t}"`),
    print: (v) => [hex(v)],
    arb: (fc) => fc.nat({ max: 0xffffffff }),
  } satisfies Kind<number>,
  port: {
    arity: 1,
    parse: ([t]) => portByName(t!) ?? err(`Port "${t}" does not resolve to anything.`),
    print: (v) => [`${v}`],
    arb: arbPort,
  } satisfies Kind<number>,
  portRange: {
    arity: 1,
    parse: ([t], ctx) => parsePortRange(t!, ctx),
    print: (v) => [printRange(v)],
    arb: arbRange,
  } satisfies Kind<NumRange>,
  portList: {
    arity: 1,
    // libxt_multiport parse_multi_ports_v1: needs -p first; a range must rise strictly; 15 slots
    parse: ([t], ctx) => {
      const proto = ctx?.protoNeg ? undefined : ctx?.proto;
      const pname = proto === undefined ? undefined : MULTIPORT_PROTOS[proto];
      if (!pname)
        return err(
          ctx?.proto === undefined || ctx.proto === 0
            ? "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'"
            : 'multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP',
        );
      const out: NumRange[] = [];
      let slots = 0;
      for (const p of t!.split(',')) {
        if (slots >= 15) return err('too many ports specified');
        const c = p.indexOf(':');
        if (c >= 0 && slots === 14) return err('too many ports specified');
        const lo = parsePortText(c < 0 ? p : p.slice(0, c), pname);
        if (lo === undefined) return err(`invalid port/service \`${c < 0 ? p : p.slice(0, c)}' specified`);
        if (c < 0) {
          out.push([lo, lo]);
          slots += 1;
          continue;
        }
        const hi = parsePortText(p.slice(c + 1), pname);
        if (hi === undefined) return err(`invalid port/service \`${p.slice(c + 1)}' specified`);
        if (lo >= hi) return err('invalid portrange specified');
        out.push([lo, hi]);
        slots += 2;
      }
      return out;
    },
    print: (v) => [v.map((r) => printRange(r)).join(',')],
    arb: (fc) => fc.array(arbRange(fc), { minLength: 1, maxLength: 5 }),
  } satisfies Kind<readonly NumRange[]>,
  markMask: {
    arity: 1,
    parse: ([t]) => parseMarkMask(t!) ?? err(`bad value "${t}"`),
    print: (v) => [v.mask === 0xffffffff ? hex(v.value) : `${hex(v.value)}/${hex(v.mask)}`],
    arb: (fc) => fc.record({ value: fc.nat({ max: 0xffffffff }), mask: fc.nat({ max: 0xffffffff }) }),
  } satisfies Kind<MarkMask>,
  /** MARK/CONNMARK --set-xmark: always printed value/mask */
  xmark: {
    arity: 1,
    parse: ([t]) => parseMarkMask(t!) ?? err(`bad value "${t}"`),
    print: (v) => [`${hex(v.value)}/${hex(v.mask)}`],
    arb: (fc) => fc.record({ value: fc.nat({ max: 0xffffffff }), mask: fc.nat({ max: 0xffffffff }) }),
  } satisfies Kind<MarkMask>,
  tcpFlags: {
    arity: 2,
    parse: ([m, c]) => {
      const mask = parseTcpFlagList(m!);
      const comp = parseTcpFlagList(c!);
      return mask === undefined || comp === undefined ? err(`bad TCP flags "${m} ${c}"`) : { mask, comp };
    },
    print: (v) => [printTcpFlagList(v.mask), printTcpFlagList(v.comp)],
    arb: (fc) => fc.record({ mask: fc.integer({ min: 1, max: 0x3f }), comp: fc.integer({ min: 0, max: 0x3f }) }),
  } satisfies Kind<TcpFlags>,
  icmpType: {
    arity: 1,
    parse: ([t]) => parseIcmp(t!),
    print: (v) => [v.type === 255 ? 'any' : v.codeLo === 0 && v.codeHi === 255 ? `${v.type}` : `${v.type}/${v.codeLo}`],
    arb: (fc) =>
      fc.oneof(
        fc.constant({ type: 255, codeLo: 0, codeHi: 255 }),
        fc.integer({ min: 0, max: 40 }).map((type) => ({ type, codeLo: 0, codeHi: 255 })),
        fc
          .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 15 }))
          .map(([type, c]) => ({ type, codeLo: c, codeHi: c })),
      ),
  } satisfies Kind<IcmpType>,
  /** statistic --probability, kept as the kernel's 31-bit fixed point so printing round-trips */
  probability: {
    arity: 1,
    // xtopt_parse_float (strtod, 0..1), then lround(0x80000000 * p) (libxt_statistic.c)
    parse: ([t]) => {
      const s = t!.replace(/^[ \t\n\v\f\r]+/, '');
      const p = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : NaN;
      if (!(p >= 0 && p <= 1)) return err(`bad value "${t}", or out of range (0-1)`);
      return Math.round(p * 0x80000000);
    },
    print: (v) => [(v / 0x80000000).toFixed(11)],
    arb: (fc) => fc.integer({ min: 0, max: 0x80000000 }),
  } satisfies Kind<number>,
  ctStates: nameSet(CT_STATES, CT_PARSE_ORDER),
  states: nameSet(CT_STATES.slice(0, 5), CT_PARSE_ORDER.slice(0, 5)),
  addrTypes: nameSet(ADDR_TYPES),
  statMode: {
    arity: 1,
    parse: ([t]) => (t === 'random' || t === 'nth' ? t : err(`bad statistic mode "${t}" (random or nth)`)),
    print: (v) => [v],
    arb: (fc) => fc.constantFrom('random', 'nth'),
  } satisfies Kind<string>,
  natDst: {
    arity: 1,
    parse: ([t], ctx) => parseNatRange(t!, true, ctx),
    // ports without an address print after a colon (libxt_NAT.c __NAT_print)
    print: (v) => [v.minIp === undefined ? `:${printNatRange(v)}` : printNatRange(v)],
    arb: (fc) =>
      fc.tuple(arbIp(fc), fc.nat({ max: 3 }), arbPortPair(fc)).map(([ip, span, ports]) => {
        const r: NatRange = { minIp: ip, maxIp: Math.min(0xffffffff, ip + span) };
        if (ports) {
          r.minPort = ports[0];
          r.maxPort = ports[1];
        }
        return r;
      }),
  } satisfies Kind<NatRange>,
  natPorts: {
    arity: 1,
    parse: ([t], ctx) => parseNatRange(t!, false, ctx),
    print: (v) => [printNatRange(v)],
    arb: (fc) =>
      arbRange(fc)
        .filter((r) => r[0] > 0)
        .map((r) => ({ minPort: r[0], maxPort: r[1] })),
  } satisfies Kind<NatRange>,
  rejectWith: {
    arity: 1,
    // libipt_REJECT.c: any case-insensitive prefix of a name or its alias, first in table order
    parse: ([t]) => {
      const low = t!.toLowerCase();
      const hit = REJECT_TABLE.find(([n, a]) => n.startsWith(low) || a.startsWith(low));
      return hit ? hit[0] : err(`unknown reject type "${t}"`);
    },
    print: (v) => [v],
    arb: (fc) => fc.constantFrom(...REJECT_TYPES),
  } satisfies Kind<string>,
  logLevel: {
    arity: 1,
    // xtopt_parse_sysloglevel: a C number 0..7 or a syslog name
    parse: ([t]) => parseCNumber(t!, 7) ?? LOG_LEVELS[t!] ?? err(`log level "${t}" unknown`),
    print: (v) => [`${v}`],
    arb: (fc) => fc.integer({ min: 0, max: 7 }),
  } satisfies Kind<number>,
  ctDir: {
    arity: 1,
    parse: ([t]) => {
      const u = t!.toUpperCase();
      return u === 'ORIGINAL' || u === 'REPLY' ? u : err(`bad --ctdir "${t}"`);
    },
    print: (v) => [v],
    arb: (fc) => fc.constantFrom('ORIGINAL', 'REPLY'),
  } satisfies Kind<string>,
  ...MODULE_KINDS,
  ...MODULE_MORE_KINDS,
} as const;

export type KindName = keyof typeof KINDS;
export type KindValue<K extends KindName> = (typeof KINDS)[K] extends Kind<infer V> ? V : never;

export const REJECT_TYPES = [
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-port-unreachable',
  'icmp-proto-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'icmp-admin-prohibited',
  'tcp-reset',
] as const;
/** libipt_REJECT.c reject_table, in its (enum) order: name, alias */
const REJECT_TABLE: readonly (readonly [string, string])[] = [
  ['icmp-net-unreachable', 'net-unreach'],
  ['icmp-host-unreachable', 'host-unreach'],
  ['icmp-proto-unreachable', 'proto-unreach'],
  ['icmp-port-unreachable', 'port-unreach'],
  ['icmp-net-prohibited', 'net-prohib'],
  ['icmp-host-prohibited', 'host-prohib'],
  ['tcp-reset', 'tcp-rst'],
  ['icmp-admin-prohibited', 'admin-prohib'],
];
const LOG_LEVELS: Record<string, number> = {
  alert: 1,
  crit: 2,
  debug: 7,
  emerg: 0,
  error: 3,
  info: 6,
  notice: 5,
  panic: 0,
  warning: 4,
};
const MULTIPORT_PROTOS: Record<number, string> = { 6: 'tcp', 17: 'udp', 136: 'udplite', 132: 'sctp', 33: 'dccp' };

function toCidr(a: AddrMask | { error: string }): Cidr | { error: string } {
  if ('error' in a) return { error: a.error };
  const len = maskLen(a.mask);
  return len === undefined ? { addr: a.addr, len: 32, mask: a.mask } : { addr: a.addr, len };
}
