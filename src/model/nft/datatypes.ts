// THE table of nft datatypes in the subset (nftables src/datatype.c, src/proto.c, src/ct.c, src/fib.c):
// how a value is read and printed, its width and byte order (which decide nft's listing order of set
// elements, src/mergesort.c), and how many elements nft prints per line (src/expression.c).
import { parseIp, formatIp } from '../ip.ts';
import type { Atom, DtypeName } from './types.ts';
import { PROTO_BY_NAME, PROTO_NAME, SERVICE_BY_NAME } from './protocols.ts';

export interface DtypeDesc {
  name: DtypeName;
  /** the name in "type ..." of a set declaration */
  setType?: string;
  bits: number;
  byteorder: 'big' | 'host';
  /** symbolic constants; for flag types, bits */
  symbols?: Readonly<Record<string, number>>;
  flags?: boolean;
  /** accepts a/len and a-b */
  prefix?: boolean;
  range?: boolean;
  /** elements nft prints on one line in a named set before breaking (0: one a line) */
  perLine: number;
  parse(text: string, quoted: boolean): Atom | undefined;
  print(v: Atom): string;
}

const PROTOS = PROTO_BY_NAME as Record<string, number>;
const PROTO_PRINT = PROTO_NAME;
const SERVICES = SERVICE_BY_NAME as Record<string, number>;

const uint = (max: number) => (text: string) => {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
};
const symOrUint = (symbols: Record<string, number>, max: number) => (text: string) => symbols[text] ?? uint(max)(text);

export const CT_STATE: Record<string, number> = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 };
export const CT_STATUS: Record<string, number> = {
  expected: 1,
  'seen-reply': 2,
  assured: 4,
  confirmed: 8,
  snat: 16,
  dnat: 32,
  dying: 512,
};
export const FIB_ADDRTYPE: Record<string, number> = {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
};

const flagsPrint = (symbols: Record<string, number>) => (v: Atom) => {
  const n = v as number;
  const names = Object.entries(symbols)
    .sort((a, b) => a[1] - b[1])
    .filter(([, bit]) => (n & bit) !== 0)
    .map(([k]) => k);
  return names.length ? names.join(',') : `0x${n.toString(16)}`;
};

const ifname = (text: string) => (text.length > 0 && text.length <= 15 && !/[\s"]/.test(text) ? text : undefined);

/** nft's nfproto symbols (src/meta.c nfproto_type) */
export const NFPROTO: Record<string, number> = { ipv4: 2, ipv6: 10 };
/** nft's icmpv6 type symbols (src/proto.c icmp6_type_tbl) */
export const ICMPV6_TYPE: Record<string, number> = {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'mld-listener-done': 132,
  'mld-listener-reduction': 132,
  'nd-router-solicit': 133,
  'nd-router-advert': 134,
  'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136,
  'nd-redirect': 137,
  'router-renumbering': 138,
  'ind-neighbor-solicit': 141,
  'ind-neighbor-advert': 142,
  'mld2-listener-report': 143,
};
const symPrint = (symbols: Record<string, number>) => (v: Atom) =>
  Object.entries(symbols).find(([, n]) => n === v)?.[0] ?? String(v);
// an IPv6 address or prefix, kept as written: the model plays IPv4 packets only, which never reach its value
const ipv6 = (t: string) => (/^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(\/\d{1,3})?$/.test(t) ? t : undefined);

export const DTYPES: Record<DtypeName, DtypeDesc> = {
  ipv4_addr: {
    name: 'ipv4_addr',
    setType: 'ipv4_addr',
    bits: 32,
    byteorder: 'big',
    prefix: true,
    range: true,
    perLine: 2,
    parse: (t) => parseIp(t),
    print: (v) => formatIp(v as number),
  },
  inet_service: {
    name: 'inet_service',
    setType: 'inet_service',
    bits: 16,
    byteorder: 'big',
    range: true,
    perLine: 5,
    parse: symOrUint(SERVICES, 65535),
    print: (v) => String(v),
  },
  inet_proto: {
    name: 'inet_proto',
    setType: 'inet_proto',
    bits: 8,
    byteorder: 'host',
    range: true,
    perLine: 5,
    symbols: PROTOS,
    parse: symOrUint(PROTOS, 255),
    print: (v) => PROTO_PRINT[v as number] ?? String(v),
  },
  mark: {
    name: 'mark',
    setType: 'mark',
    bits: 32,
    byteorder: 'host',
    // "meta mark 0x12340000/16" is how nft lists "meta mark & 0xffff0000 == 0x12340000"
    prefix: true,
    range: true,
    perLine: 5,
    parse: uint(0xffffffff),
    print: (v) => `0x${(v as number).toString(16).padStart(8, '0')}`,
  },
  ifname: {
    name: 'ifname',
    setType: 'ifname',
    bits: 128,
    byteorder: 'host',
    perLine: 0,
    parse: (t) => ifname(t),
    print: (v) => `"${v as string}"`,
  },
  iface_index: {
    name: 'iface_index',
    bits: 32,
    byteorder: 'host',
    perLine: 5,
    parse: (t) => ifname(t),
    print: (v) => `"${v as string}"`,
  },
  ct_state: {
    name: 'ct_state',
    setType: 'ct_state',
    bits: 32,
    byteorder: 'host',
    flags: true,
    symbols: CT_STATE,
    perLine: 2,
    parse: symOrUint(CT_STATE, 0xffffffff),
    print: flagsPrint(CT_STATE),
  },
  ct_status: {
    name: 'ct_status',
    setType: 'ct_status',
    bits: 32,
    byteorder: 'host',
    flags: true,
    symbols: CT_STATUS,
    perLine: 2,
    parse: symOrUint(CT_STATUS, 0xffffffff),
    print: flagsPrint(CT_STATUS),
  },
  fib_addrtype: {
    name: 'fib_addrtype',
    bits: 32,
    byteorder: 'host',
    symbols: FIB_ADDRTYPE,
    perLine: 0,
    parse: (t) => FIB_ADDRTYPE[t],
    print: (v) => Object.entries(FIB_ADDRTYPE).find(([, n]) => n === v)?.[0] ?? String(v),
  },
  nfproto: {
    name: 'nfproto',
    bits: 8,
    byteorder: 'host',
    symbols: NFPROTO,
    perLine: 5,
    parse: symOrUint(NFPROTO, 255),
    print: symPrint(NFPROTO),
  },
  ipv6_addr: {
    name: 'ipv6_addr',
    setType: 'ipv6_addr',
    bits: 128,
    byteorder: 'big',
    perLine: 2,
    parse: (t, quoted) => (quoted ? undefined : ipv6(t)),
    print: (v) => String(v),
  },
  icmpv6_type: {
    name: 'icmpv6_type',
    setType: 'icmpv6_type',
    bits: 8,
    byteorder: 'host',
    symbols: ICMPV6_TYPE,
    perLine: 5,
    parse: symOrUint(ICMPV6_TYPE, 255),
    print: symPrint(ICMPV6_TYPE),
  },
  integer: {
    name: 'integer',
    bits: 32,
    byteorder: 'host',
    range: true,
    perLine: 5,
    parse: uint(0xffffffff),
    print: (v) => String(v),
  },
};

export const DTYPE_BY_SET_TYPE = new Map(
  Object.values(DTYPES)
    .filter((d) => d.setType)
    .map((d) => [d.setType!, d]),
);

/** The bytes of a value as nft lays it out in a register (its byte order, its width). */
export function atomBytes(d: DtypeDesc, v: Atom): number[] {
  const n = Math.ceil(d.bits / 8);
  if (typeof v === 'string') {
    const out = new Array<number>(n).fill(0);
    for (let i = 0; i < v.length && i < n; i++) out[i] = v.charCodeAt(i);
    return out;
  }
  const be: number[] = [];
  let x = v;
  for (let i = 0; i < n; i++) {
    be.unshift(x & 255);
    x = Math.floor(x / 256);
  }
  return d.byteorder === 'big' ? be : be.reverse();
}

/**
 * nft 1.0.6's listing order of set elements (src/mergesort.c): a single value by its number (strings
 * by their bytes read host-endian), a concatenation by its components' bytes read host-endian, i.e.
 * the last byte weighs most. Returned as a big-endian byte key to compare lexicographically.
 */
export function sortKey(dts: readonly DtypeDesc[], vals: readonly Atom[]): number[] {
  if (dts.length === 1 && typeof vals[0] === 'number') {
    const out: number[] = [];
    let x = vals[0];
    for (let i = 0; i < 16; i++) {
      out.unshift(x & 255);
      x = Math.floor(x / 256);
    }
    return out;
  }
  const bytes = dts.flatMap((d, i) => atomBytes(d, vals[i]!));
  return bytes.reverse();
}

export function compareKeys(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  const pa = [...new Array<number>(n - a.length).fill(0), ...a];
  const pb = [...new Array<number>(n - b.length).fill(0), ...b];
  for (let i = 0; i < n; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}
