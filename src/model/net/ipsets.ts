// ipset state of a host (spec/modules.md §set): the lines `ipset save` prints (create/add), read into sets
// the model matches against (kernel: net/netfilter/ipset/ip_set_hash_*.c) and written out again, from the
// parsed values, for `ipset restore` in the lab. Only what the model evaluates is accepted; anything else
// (other set types, timeouts, nomatch entries, counters) is refused with the line and the reason.
import { formatIp, parseIp, maskOf, type U32 } from '../ip.ts';

export const IPSET_TYPES = ['hash:ip', 'hash:net', 'hash:ip,port', 'hash:net,port'] as const;
export type IpsetType = (typeof IPSET_TYPES)[number];

const PORT_PROTOS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, udplite: 136 };

/** One element: an address range (ip dimension, or a network) and for port types a protocol and port range. */
export interface IpsetEntry {
  lo: U32;
  hi: U32;
  proto?: number;
  portLo?: number;
  portHi?: number;
  /** the element as `ipset restore` takes it (rebuilt from the values) */
  text: string;
}

export interface Ipset {
  name: string;
  type: IpsetType;
  entries: IpsetEntry[];
}

/** ipset's name limit (IPSET_MAXNAMELEN 32 with the NUL) and the characters a lab command may carry. */
export function ipsetNameProblem(s: string): string | undefined {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}$/.test(s)
    ? undefined
    : 'not an ipset name (1-31 letters, digits, "_", ".", "-", not starting with "." or "-")';
}

/** The dimensions of a set type: what each `src`/`dst` flag of `-m set` selects, in order. */
export function dimensions(t: IpsetType): ('addr' | 'port')[] {
  return t.endsWith(',port') ? ['addr', 'port'] : ['addr'];
}

function parseAddrPart(t: string, net: boolean): { lo: U32; hi: U32; text: string } | string {
  const slash = t.indexOf('/');
  const dash = t.indexOf('-');
  if (slash >= 0) {
    const a = parseIp(t.slice(0, slash));
    const len = /^\d{1,2}$/.test(t.slice(slash + 1)) ? Number(t.slice(slash + 1)) : NaN;
    if (a === undefined || !(len >= (net ? 1 : 0) && len <= 32)) return `bad address/prefix "${t}"`;
    const lo = (a & maskOf(len)) >>> 0;
    const hi = (lo | ~maskOf(len)) >>> 0;
    return { lo, hi, text: `${formatIp(lo)}/${len}` };
  }
  if (dash >= 0 && !net) {
    const a = parseIp(t.slice(0, dash));
    const b = parseIp(t.slice(dash + 1));
    if (a === undefined || b === undefined || a > b) return `bad address range "${t}"`;
    return { lo: a, hi: b, text: `${formatIp(a)}-${formatIp(b)}` };
  }
  const a = parseIp(t);
  if (a === undefined) return `bad address "${t}"`;
  return { lo: a, hi: a, text: net ? `${formatIp(a)}/32` : formatIp(a) };
}

function parsePortPart(t: string): { proto: number; lo: number; hi: number; text: string } | string {
  const colon = t.indexOf(':');
  const pname = colon >= 0 ? t.slice(0, colon) : 'tcp';
  const proto = PORT_PROTOS[pname];
  if (proto === undefined) return `protocol "${pname}" is not modelled in set elements (tcp, udp, sctp, udplite)`;
  const ports = colon >= 0 ? t.slice(colon + 1) : t;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(ports);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!(lo >= 0 && hi <= 65535 && lo <= hi)) return `bad port "${ports}"`;
  return { proto, lo, hi, text: `${pname}:${lo === hi ? lo : `${lo}-${hi}`}` };
}

export interface IpsetLine {
  text: string;
  /** 1-based, for messages */
  line: number;
}

/** The sets the lines create and fill; a string names what is wrong with which line. */
export function parseIpsets(lines: readonly string[]): Map<string, Ipset> | { line: number; error: string } {
  const sets = new Map<string, Ipset>();
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const w = raw
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '');
    if (w.length === 0 || w[0]!.startsWith('#')) continue;
    const [cmd, name, ...rest] = w;
    const fail = (error: string) => ({ line, error });
    if (name === undefined) return fail(`"${cmd}" needs a set name`);
    const bad = ipsetNameProblem(name);
    if (bad) return fail(`${JSON.stringify(name)}: ${bad}`);
    if (cmd === 'create') {
      if (sets.has(name)) return fail(`set "${name}" is created twice`);
      const type = rest[0] as IpsetType | undefined;
      if (!type || !IPSET_TYPES.includes(type))
        return fail(`set type "${rest[0] ?? ''}" is not modelled (${IPSET_TYPES.join(', ')})`);
      // what `ipset save` prints for these types; each only sizes the hash table
      const opts = rest.slice(1);
      for (let k = 0; k < opts.length; k += 2) {
        const [o, v] = [opts[k]!, opts[k + 1]];
        if (o === 'family' && v === 'inet') continue;
        if (['hashsize', 'maxelem', 'bucketsize'].includes(o) && v !== undefined && /^\d{1,10}$/.test(v)) continue;
        if (o === 'initval' && v !== undefined && /^0x[0-9a-f]{1,8}$/i.test(v)) continue;
        return fail(`create option "${o}" is not modelled (family inet, hashsize, maxelem, bucketsize, initval)`);
      }
      sets.set(name, { name, type, entries: [] });
      continue;
    }
    if (cmd === 'add') {
      const set = sets.get(name);
      if (!set) return fail(`set "${name}" is not created before this line`);
      if (rest.length !== 1) return fail(`element options (${rest.slice(1).join(' ')}) are not modelled`);
      const parts = rest[0]!.split(',');
      const dims = dimensions(set.type);
      if (parts.length !== dims.length) return fail(`a ${set.type} element has ${dims.length} part(s): "${rest[0]}"`);
      const addr = parseAddrPart(parts[0]!, set.type.startsWith('hash:net'));
      if (typeof addr === 'string') return fail(addr);
      const entry: IpsetEntry = { lo: addr.lo, hi: addr.hi, text: addr.text };
      if (dims.length === 2) {
        const port = parsePortPart(parts[1]!);
        if (typeof port === 'string') return fail(port);
        Object.assign(entry, {
          proto: port.proto,
          portLo: port.lo,
          portHi: port.hi,
          text: `${addr.text},${port.text}`,
        });
      }
      set.entries.push(entry);
      continue;
    }
    return fail(`"${cmd}" is not modelled in ipset state (create, add)`);
  }
  return sets;
}

/** The `ipset restore` input for the sets, from the parsed values only. */
export function ipsetRestoreText(sets: ReadonlyMap<string, Ipset>): string {
  const out: string[] = [];
  for (const s of sets.values()) {
    out.push(`create ${s.name} ${s.type} family inet`);
    for (const e of s.entries) out.push(`add ${s.name} ${e.text}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** The packet's values a `-m set` test reads (ip_set_get_ip4_port: ports only for port protocols). */
export interface SetProbe {
  src: U32;
  dst: U32;
  proto: number;
  sport: number;
  dport: number;
}

/** ip_set_test: is the packet, read along `dirs`, an element of the set? Fewer flags than dimensions: no. */
export function inIpset(set: Ipset, dirs: readonly ('src' | 'dst')[], p: SetProbe): boolean {
  const dims = dimensions(set.type);
  if (dirs.length < dims.length) return false;
  const addr = dirs[0] === 'src' ? p.src : p.dst;
  const port = dims.length === 2 ? (dirs[1] === 'src' ? p.sport : p.dport) : 0;
  const portProto = Object.values(PORT_PROTOS).includes(p.proto);
  return set.entries.some((e) => {
    if (addr < e.lo || addr > e.hi) return false;
    if (e.proto === undefined) return true;
    return portProto && p.proto === e.proto && port >= e.portLo! && port <= e.portHi!;
  });
}
