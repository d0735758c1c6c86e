// Value kinds of iptables options: each knows how to parse, print (canonically,
// as iptables-save prints it) and generate itself. Descriptors refer to kinds by name.
// fast-check is passed in, not imported: the parser (and so `nfconform lint`) must not pay its load.
import type FastCheck from 'fast-check';
export type FC = typeof FastCheck;
import { type Cidr, parseCidr, formatCidr, parseIp, formatIp, maskOf, type U32 } from '../ip.ts';

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
  | readonly string[];

/** A kind: `parse` returns the value, or a string saying what is wrong. */
export interface Kind<V extends OptValue> {
  /** number of arguments the option takes */
  arity: 0 | 1 | 2;
  parse(args: readonly string[]): V | { error: string };
  print(v: V): string[];
  /** generates values; `fc` is fast-check, given by the caller (src/conform/arbitraries.ts) */
  arb(fc: FC): FastCheck.Arbitrary<V>;
}

const err = (error: string) => ({ error });

function parsePort(t: string): number | undefined {
  if (!/^\d{1,5}$/.test(t)) return SERVICE_PORTS[t];
  const n = Number(t);
  return n <= 65535 ? n : undefined;
}
// iptables resolves service names through /etc/services; these are the ones
// kube-proxy-era rulesets use. Anything else must be numeric.
const SERVICE_PORTS: Record<string, number> = { http: 80, https: 443, ssh: 22, domain: 53, ntp: 123 };

export function parsePortRange(t: string): NumRange | undefined {
  const i = t.indexOf(':');
  if (i < 0) {
    const p = parsePort(t);
    return p === undefined ? undefined : [p, p];
  }
  const lo = i === 0 ? 0 : parsePort(t.slice(0, i));
  const hi = i === t.length - 1 ? 65535 : parsePort(t.slice(i + 1));
  if (lo === undefined || hi === undefined || lo > hi) return undefined;
  return [lo, hi];
}

const printRange = (r: NumRange, sep = ':') => (r[0] === r[1] ? `${r[0]}` : `${r[0]}${sep}${r[1]}`);
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

function parseU32(t: string): number | undefined {
  if (/^0x[0-9a-fA-F]{1,8}$/.test(t)) return parseInt(t, 16) >>> 0;
  if (/^\d{1,10}$/.test(t) && Number(t) <= 0xffffffff) return Number(t);
  return undefined;
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
  if (t === 'ALL') return 0x3f;
  if (t === 'NONE') return 0;
  let m = 0;
  for (const name of t.split(',')) {
    const i = TCP_FLAG_NAMES.indexOf(name as (typeof TCP_FLAG_NAMES)[number]);
    if (i < 0) return undefined;
    m |= 1 << i;
  }
  return m;
}
function printTcpFlagList(m: number): string {
  if (m === 0) return 'NONE';
  return TCP_FLAG_NAMES.filter((_, i) => m & (1 << i)).join(',');
}

export const ICMP_TYPE_NAMES: Record<string, readonly [number, number, number]> = {
  any: [255, 0, 255],
  'echo-reply': [0, 0, 255],
  pong: [0, 0, 255],
  'destination-unreachable': [3, 0, 255],
  'network-unreachable': [3, 0, 0],
  'host-unreachable': [3, 1, 1],
  'protocol-unreachable': [3, 2, 2],
  'port-unreachable': [3, 3, 3],
  'fragmentation-needed': [3, 4, 4],
  'network-prohibited': [3, 9, 9],
  'host-prohibited': [3, 10, 10],
  'communication-prohibited': [3, 13, 13],
  'source-quench': [4, 0, 255],
  redirect: [5, 0, 255],
  'echo-request': [8, 0, 255],
  ping: [8, 0, 255],
  'time-exceeded': [11, 0, 255],
  'ttl-zero-during-transit': [11, 0, 0],
  'parameter-problem': [12, 0, 255],
  'timestamp-request': [13, 0, 255],
  'timestamp-reply': [14, 0, 255],
};

/** A set of names printed in a fixed canonical order (conntrack states, address types). */
function nameSet(order: readonly string[], min = 1): Kind<readonly string[]> {
  return {
    arity: 1,
    parse: ([t]) => {
      const items = t!.split(',');
      for (const i of items)
        if (!order.includes(i)) return err(`unknown value "${i}" (expected one of ${order.join(', ')})`);
      return order.filter((o) => items.includes(o));
    },
    print: (v) => [v.join(',')],
    arb: (fc) => fc.subarray([...order], { minLength: min }),
  };
}

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

function parseNatRange(t: string, withIp: boolean): NatRange | undefined {
  let ipPart = t;
  let portPart: string | undefined;
  const colon = t.indexOf(':');
  if (colon >= 0) {
    ipPart = t.slice(0, colon);
    portPart = t.slice(colon + 1);
  }
  const r: NatRange = {};
  if (withIp) {
    const [a, b] = ipPart.split('-');
    const lo = parseIp(a ?? '');
    const hi = b === undefined ? lo : parseIp(b);
    if (lo === undefined || hi === undefined || hi < lo) return undefined;
    r.minIp = lo;
    r.maxIp = hi;
  } else if (colon >= 0 || ipPart !== '') {
    portPart = ipPart;
  }
  if (portPart !== undefined) {
    const [a, b] = portPart.split('-');
    const lo = parsePort(a ?? '');
    const hi = b === undefined ? lo : parsePort(b);
    if (lo === undefined || hi === undefined || hi < lo) return undefined;
    r.minPort = lo;
    r.maxPort = hi;
  }
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
    parse: ([t]) => (t!.length > 255 ? err('string longer than 255 characters') : t!),
    print: (v) => [saveString(v)],
    arb: (fc) => fc.string({ minLength: 0, maxLength: 20 }).filter((s) => !s.includes('\n') && !s.includes('\0')),
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
    parse: ([t]) => parseCidr(t!) ?? err(`bad address "${t}"`),
    print: (v) => [formatCidr(v, true)],
    arb: arbCidr,
  } satisfies Kind<Cidr>,
  /** printed without /32, as conntrack --ctorigdst is */
  cidrShort: {
    arity: 1,
    parse: ([t]) => parseCidr(t!) ?? err(`bad address "${t}"`),
    print: (v) => [formatCidr(v, false)],
    arb: arbCidr,
  } satisfies Kind<Cidr>,
  uint: {
    arity: 1,
    parse: ([t]) => (/^\d{1,10}$/.test(t!) && Number(t) <= 0xffffffff ? Number(t) : err(`bad number "${t}"`)),
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
    parse: ([t]) => parsePort(t!) ?? err(`bad port "${t}"`),
    print: (v) => [`${v}`],
    arb: arbPort,
  } satisfies Kind<number>,
  portRange: {
    arity: 1,
    parse: ([t]) => parsePortRange(t!) ?? err(`bad port or port range "${t}"`),
    print: (v) => [printRange(v)],
    arb: arbRange,
  } satisfies Kind<NumRange>,
  portList: {
    arity: 1,
    parse: ([t]) => {
      const parts = t!.split(',');
      const out: NumRange[] = [];
      for (const p of parts) {
        const r = parsePortRange(p);
        if (!r) return err(`bad port "${p}" in list`);
        out.push(r);
      }
      const slots = out.reduce((n, r) => n + (r[0] === r[1] ? 1 : 2), 0);
      return slots > 15 ? err('too many ports specified (at most 15, a range counts as 2)') : out;
    },
    print: (v) => [v.map((r) => printRange(r)).join(',')],
    arb: (fc) => fc.array(arbRange(fc), { minLength: 1, maxLength: 5 }),
  } satisfies Kind<readonly NumRange[]>,
  markMask: {
    arity: 1,
    parse: ([t]) => {
      const [a, b] = t!.split('/');
      const value = parseU32(a ?? '');
      const mask = b === undefined ? 0xffffffff : parseU32(b);
      return value === undefined || mask === undefined ? err(`bad mark "${t}"`) : { value, mask };
    },
    print: (v) => [v.mask === 0xffffffff ? hex(v.value) : `${hex(v.value)}/${hex(v.mask)}`],
    arb: (fc) => fc.record({ value: fc.nat({ max: 0xffffffff }), mask: fc.nat({ max: 0xffffffff }) }),
  } satisfies Kind<MarkMask>,
  /** MARK/CONNMARK --set-xmark: always printed value/mask */
  xmark: {
    arity: 1,
    parse: ([t]) => {
      const [a, b] = t!.split('/');
      const value = parseU32(a ?? '');
      const mask = b === undefined ? 0xffffffff : parseU32(b);
      return value === undefined || mask === undefined ? err(`bad mark "${t}"`) : { value, mask };
    },
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
    parse: ([t]) => {
      const named = ICMP_TYPE_NAMES[t!];
      if (named) return { type: named[0], codeLo: named[1], codeHi: named[2] };
      const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(t!);
      if (!m || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) return err(`bad ICMP type "${t}"`);
      const code = m[2] === undefined ? undefined : Number(m[2]);
      return { type: Number(m[1]), codeLo: code ?? 0, codeHi: code ?? 255 };
    },
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
    parse: ([t]) => {
      const p = Number(t);
      if (!/^[\d.eE+-]+$/.test(t!) || !(p >= 0 && p <= 1)) return err(`bad probability "${t}" (expected 0..1)`);
      return Math.round(p * 0x80000000);
    },
    print: (v) => [(v / 0x80000000).toFixed(11)],
    arb: (fc) => fc.integer({ min: 0, max: 0x80000000 }),
  } satisfies Kind<number>,
  ctStates: nameSet(CT_STATES),
  states: nameSet(CT_STATES.slice(0, 5)),
  addrTypes: nameSet(ADDR_TYPES),
  statMode: {
    arity: 1,
    parse: ([t]) => (t === 'random' || t === 'nth' ? t : err(`bad statistic mode "${t}" (random or nth)`)),
    print: (v) => [v],
    arb: (fc) => fc.constantFrom('random', 'nth'),
  } satisfies Kind<string>,
  natDst: {
    arity: 1,
    parse: ([t]) => parseNatRange(t!, true) ?? err(`bad address range "${t}"`),
    print: (v) => [printNatRange(v)],
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
    parse: ([t]) => {
      const r = parseNatRange(t!, false);
      return r && r.minPort !== undefined ? r : err(`bad port range "${t}"`);
    },
    print: (v) => [printNatRange(v)],
    arb: (fc) =>
      arbRange(fc)
        .filter((r) => r[0] > 0)
        .map((r) => ({ minPort: r[0], maxPort: r[1] })),
  } satisfies Kind<NatRange>,
  rejectWith: {
    arity: 1,
    parse: ([t]) => REJECT_ALIASES[t!] ?? err(`unknown --reject-with type "${t}"`),
    print: (v) => [v],
    arb: (fc) => fc.constantFrom(...REJECT_TYPES),
  } satisfies Kind<string>,
  logLevel: {
    arity: 1,
    parse: ([t]) => {
      const i = LOG_LEVELS.indexOf(t!);
      if (i >= 0) return i;
      return /^[0-7]$/.test(t!) ? Number(t) : err(`bad log level "${t}"`);
    },
    print: (v) => [`${v}`],
    arb: (fc) => fc.integer({ min: 0, max: 7 }),
  } satisfies Kind<number>,
  ctDir: {
    arity: 1,
    parse: ([t]) => (t === 'ORIGINAL' || t === 'REPLY' ? t : err(`bad --ctdir "${t}"`)),
    print: (v) => [v],
    arb: (fc) => fc.constantFrom('ORIGINAL', 'REPLY'),
  } satisfies Kind<string>,
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
const REJECT_ALIASES: Record<string, string> = Object.fromEntries([
  ...REJECT_TYPES.map((t) => [t, t]),
  ['net-unreach', 'icmp-net-unreachable'],
  ['host-unreach', 'icmp-host-unreachable'],
  ['port-unreach', 'icmp-port-unreachable'],
  ['proto-unreach', 'icmp-proto-unreachable'],
  ['net-prohib', 'icmp-net-prohibited'],
  ['host-prohib', 'icmp-host-prohibited'],
  ['admin-prohib', 'icmp-admin-prohibited'],
  ['tcp-rst', 'tcp-reset'],
]);
const LOG_LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];
