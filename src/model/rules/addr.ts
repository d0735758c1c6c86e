// IPv4 addresses and masks as libxtables reads them (libxtables/xtables.c:
// xtables_ipparse_multiple, parse_ipmask, __numeric_to_ipaddr, host_to_ipaddr).
// Host and network names are not resolved: that would make a ruleset's meaning
// depend on the machine's resolver (spec/iptables.md §2, spec/divergences.md).
import { parseCNumber } from './netdb.ts';
import type { U32 } from '../ip.ts';

/** An address with any netmask, contiguous or not. */
export interface AddrMask {
  addr: U32;
  mask: U32;
}

export type AddrResult = { ok: true; value: AddrMask[] } | { ok: false; error: string };

/** inet_pton(AF_INET): exactly four decimal parts 0..255, no leading zeros. */
export function parseDotted(t: string): U32 | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (!m) return undefined;
  let v = 0;
  for (const p of m.slice(1)) {
    if ((p.length > 1 && p[0] === '0') || Number(p) > 255) return undefined;
    v = v * 256 + Number(p);
  }
  return v >>> 0;
}

/** __numeric_to_ipaddr: up to four C-number parts 0..255; an address with fewer parts is completed with zeros. */
export function numericToAddr(t: string, isMask: boolean): U32 | undefined {
  const parts = t.split('.');
  if (parts.length > 4 || (isMask && parts.length !== 4)) return undefined;
  const bytes = [0, 0, 0, 0];
  for (const [i, p] of parts.entries()) {
    const b = parseCNumber(p, 255);
    if (b === undefined) return undefined;
    bytes[i] = b;
  }
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

/** inet_aton, which getaddrinfo applies to a numeric host: 1 to 4 C-number parts, the last filling the rest. */
export function inetAton(t: string): U32 | undefined {
  const parts = t.split('.');
  if (parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseCNumber(p, 0xffffffff);
    if (n === undefined || /^\s|^\+/.test(p)) return undefined;
    nums.push(n);
  }
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][parts.length - 1]!;
  if (nums.slice(0, -1).some((n) => n > 255) || nums.at(-1)! > lastMax) return undefined;
  let v = 0;
  nums.slice(0, -1).forEach((n, i) => (v += n * 2 ** (24 - 8 * i)));
  return (v + nums.at(-1)!) >>> 0;
}

/** /etc/networks of Debian's netbase (getnetbyname), the only names resolved. */
const NETWORKS: Record<string, U32> = { default: 0, loopback: 0x7f000000, 'link-local': 0xa9fe0000 };

function parseMask(t: string): U32 | { error: string } {
  const dotted = numericToAddr(t, true);
  if (dotted !== undefined) return dotted;
  const bits = parseCNumber(t, 32);
  if (bits === undefined) return { error: `invalid mask \`${t}' specified` };
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function parseHost(t: string): U32 | { error: string } {
  const a = numericToAddr(t, false) ?? NETWORKS[t] ?? inetAton(t);
  if (a !== undefined) return a;
  if (t.startsWith('!'))
    return {
      error:
        `host/network \`${t}' not found: "!" goes before the option (\`! -s ADDR'), the form \`-s` +
        ` ! ADDR' is gone since iptables 1.4.3`,
    };
  return {
    error:
      `host/network \`${t}' not found (host names are not resolved: they would make the ruleset` +
      ` depend on this machine's resolver; write the address)`,
  };
}

/** One -s/-d argument: a comma-separated list of ADDR[/MASK], each masked (xtables_ipparse_multiple). */
export function parseAddrList(arg: string): AddrResult {
  const out: AddrMask[] = [];
  for (const raw of arg.split(',')) {
    const item = raw.replace(/^[ \t\n\v\f\r]+/, '');
    if (item.length > 255) return { ok: false, error: 'Hostname too long' };
    const slash = item.lastIndexOf('/');
    const maskR = slash < 0 ? 0xffffffff : parseMask(item.slice(slash + 1));
    if (typeof maskR === 'object') return { ok: false, error: maskR.error };
    // a zero mask ignores the name, like in "any/0"
    const host = maskR === 0 ? '0.0.0.0' : slash < 0 ? item : item.slice(0, slash);
    const a = parseHost(host);
    if (typeof a === 'object') return { ok: false, error: a.error };
    out.push({ addr: (a & maskR) >>> 0, mask: maskR });
  }
  return { ok: true, value: out };
}

/** XTTYPE_HOST / XTTYPE_HOSTMASK (conntrack, recent): getaddrinfo's numeric forms (inet_aton: `10.1` is
 * 10.0.0.1), then `/LEN` or `/MASK` after the first slash; the address is not masked. */
export function parseHostMask(arg: string): AddrMask | { error: string } {
  const slash = arg.indexOf('/');
  const host = slash < 0 ? arg : arg.slice(0, slash);
  const a = inetAton(host);
  if (a === undefined)
    return {
      error: `getaddrinfo: Name or service not known ("${host}"; host names are not resolved: write the address)`,
    };
  if (slash < 0) return { addr: a, mask: 0xffffffff };
  const m = arg.slice(slash + 1);
  const bits = parseCNumber(m, 32);
  if (bits !== undefined) return { addr: a, mask: bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0 };
  const dotted = inetAton(m);
  if (dotted === undefined) return { error: `bad mask "${m}", neither a valid network mask nor valid CIDR (0-32)` };
  // xtopt_parse_plenmask rebuilds the mask from its prefix length: a mask with holes has none, leaving /32
  return { addr: a, mask: maskLen(dotted) === undefined ? 0xffffffff : dotted };
}

/** The prefix length of a contiguous mask, or undefined. */
export function maskLen(mask: U32): number | undefined {
  if (mask === 0) return 0;
  const inv = ~mask >>> 0;
  return (inv & (inv + 1)) === 0 ? 32 - Math.log2(inv + 1) : undefined;
}
