// IPv4 as uint32 numbers: the hot path compares masks, never objects (spec/semantics.md §2).

export type U32 = number;

export interface Cidr {
  /** network address, already masked */
  addr: U32;
  len: number;
  /** set only for a netmask with holes (iptables accepts `-s 10.0.0.0/255.0.255.0`); `len` is then unused */
  mask?: U32;
}

/** The netmask of a Cidr, contiguous or not. */
export function cidrMask(c: Cidr): U32 {
  return c.mask ?? maskOf(c.len);
}

// Four decimal octets 0-255, none zero-padded ("010" is octal to inet_aton-style parsers: refused, not
// guessed). The same check ip-num's Validator made, without ip-num's 0.3 s load on every CLI start.
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses a dotted quad; returns undefined when it is not one. */
export function parseIp(text: string): U32 | undefined {
  if (!DOTTED_QUAD.test(text)) return undefined;
  const p = text.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function formatIp(a: U32): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export function maskOf(len: number): U32 {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Length of a contiguous netmask, or undefined when it has holes. */
export function maskLength(mask: U32): number | undefined {
  for (let len = 0; len <= 32; len++) if (maskOf(len) === mask) return len;
  return undefined;
}

/** Parses `a.b.c.d`, `a.b.c.d/len` or `a.b.c.d/mask`, masking host bits as iptables does. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (addr === undefined) return undefined;
  if (slash < 0) return { addr, len: 32 };
  const suffix = text.slice(slash + 1);
  let len: number | undefined;
  if (/^\d{1,2}$/.test(suffix)) len = Number(suffix);
  else {
    const m = parseIp(suffix);
    len = m === undefined ? undefined : maskLength(m);
  }
  if (len === undefined || len > 32) return undefined;
  return { addr: (addr & maskOf(len)) >>> 0, len };
}

export function cidrContains(c: Cidr, a: U32): boolean {
  return (a & cidrMask(c)) >>> 0 === c.addr;
}

/** `a.b.c.d/len`, or `a.b.c.d/m.a.s.k` for a mask with holes, as iptables-save prints them. */
export function formatCidr(c: Cidr, alwaysLen = true): string {
  if (c.mask !== undefined) return `${formatIp(c.addr)}/${formatIp(c.mask)}`;
  return !alwaysLen && c.len === 32 ? formatIp(c.addr) : `${formatIp(c.addr)}/${c.len}`;
}

/** "a.b.c.d/len" of an interface address (host bits kept). */
export interface IfAddr {
  ip: U32;
  len: number;
}

export function parseIfAddr(text: string): IfAddr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  const len = Number(m[2]);
  return ip === undefined || len > 32 ? undefined : { ip, len };
}

export function isLoopback(a: U32): boolean {
  return a >>> 24 === 127;
}
