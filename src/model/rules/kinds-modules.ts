// Value kinds of the modules of spec/modules.md (owner, set, mac, iprange, pkttype, physdev, NFQUEUE,
// TPROXY, CT zones and helpers): each parses as its libxt_*.c parser does and prints as iptables-save
// 1.8.9 prints (checked with real iptables-restore/iptables-save on both flavors: test/unit/modules-parse).
import { formatIp, type U32 } from '../ip.ts';
import { parseCNumber } from './netdb.ts';
import { numericToAddr, inetAton } from './addr.ts';
import type { Kind, NumRange } from './kinds.ts';
import { BASE_ACCOUNTS } from './accounts.ts';

const err = (error: string) => ({ error });

/** -m set --match-set NAME src,dst */
export interface SetRef {
  name: string;
  /** one direction per dimension of the set, at most IPSET_DIM_MAX (6) */
  dirs: readonly ('src' | 'dst')[];
}

/** libxt_owner owner_parse_range: a name (getpwnam/getgrnam: the account database the parse was given), or
 *  N[-M] / N[:M] with 0 <= N, M <= 2^32 - 2 ((uid_t)-1 is invalid). */
function idRange(db: 'users' | 'groups'): Kind<NumRange> {
  return {
    arity: 1,
    parse: ([t], ctx) => {
      // the name first, through the account database the parse was given (accounts.ts)
      const byName = (ctx?.accounts ?? BASE_ACCOUNTS)[db].get(t!);
      if (byName !== undefined) return [byName, byName];
      const m = /^([^-:]*)(?:[-:](.*))?$/.exec(t!)!;
      const lo = parseCNumber(m[1]!, 0xfffffffe);
      const hi = m[2] === undefined ? lo : parseCNumber(m[2], 0xfffffffe);
      if (lo === undefined || hi === undefined)
        return err(`Bad value "${t}" (a number, a range, or a ${db === 'users' ? 'user' : 'group'} of this machine)`);
      return [lo, hi];
    },
    print: (v) => [v[0] === v[1] ? `${v[0]}` : `${v[0]}-${v[1]}`],
    arb: (fc) =>
      fc.oneof(
        fc.constantFrom<NumRange>([0, 0], [1000, 1000], [65534, 65534]),
        fc
          .tuple(fc.nat({ max: 70000 }), fc.nat({ max: 70000 }))
          .map(([a, b]) => (a <= b ? [a, b] : [b, a]) as NumRange),
      ),
  };
}

/** XTTYPE_ETHERMAC (xtopt_parse_ethermac): six hex bytes separated by ':'; printed two lowercase digits each. */
const mac: Kind<string> = {
  arity: 1,
  parse: ([t]) => {
    const parts = t!.split(':');
    if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) return err(`invalid MAC "${t}"`);
    return parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':');
  },
  print: (v) => [v],
  arb: (fc) =>
    fc
      .array(fc.nat({ max: 255 }), { minLength: 6, maxLength: 6 })
      .map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':')),
};

/** libxt_iprange iprange_parse_range: FROM[-TO], each xtables_numeric_to_ipaddr (missing parts are zeros:
 *  "1.2.3" is 1.2.3.0); a reversed range loads and matches nothing. */
const ipRange: Kind<NumRange> = {
  arity: 1,
  parse: ([t]) => {
    const i = t!.indexOf('-');
    const a = numericToAddr(i < 0 ? t! : t!.slice(0, i), false);
    const b = i < 0 ? a : numericToAddr(t!.slice(i + 1), false);
    if (a === undefined || b === undefined) return err(`"${t}" is not a valid IP address range`);
    return [a, b];
  },
  print: (v) => [`${formatIp(v[0] as U32)}-${formatIp(v[1] as U32)}`],
  arb: (fc) =>
    fc
      .tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 300 }))
      .map(([a, n]) => [a, Math.min(0xffffffff, a + n)] as NumRange),
};

/** libxt_pkttype supported_types: the first name of a type is the one printed. */
export const PKT_TYPES: readonly (readonly [string, number])[] = [
  ['unicast', 0],
  ['broadcast', 1],
  ['multicast', 2],
  ['host', 0],
  ['otherhost', 3],
];
const pktType: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const hit = PKT_TYPES.find(([n]) => n === t!.toLowerCase());
    return hit ? hit[1] : err(`Bad packet type '${t}'`);
  },
  print: (v) => [PKT_TYPES.find(([, n]) => n === v)![0]],
  arb: (fc) => fc.constantFrom(0, 1, 2, 3),
};

/** An interface name as physdev takes it (xtables_parse_interface: at most 15 characters, '+' a wildcard). */
const ifaceName: Kind<string> = {
  arity: 1,
  // an empty name is taken (and printed as an empty word), measured
  parse: ([t]) => (t!.length > 15 ? err(`interface name \`${t}' must be shorter than IFNAMSIZ (15)`) : t!),
  print: (v) => [v],
  arb: (fc) => fc.constantFrom('eth0', 'cni0', 'veth+', 'eth+', 'vethX'),
};

/** libxt_set parse_dirs: "src" / "dst" words separated by commas, at most IPSET_DIM_MAX (6). */
const setMatch: Kind<SetRef> = {
  arity: 2,
  parse: ([name, flags]) => {
    // IPSET_MAXNAMELEN is 32 with the NUL
    if (name!.length > 31) return err(`setname \`${name}' too long, max 31 characters.`);
    const dirs: ('src' | 'dst')[] = [];
    for (const d of flags!.split(',')) {
      if (dirs.length === 6) return err("Can't be more src/dst options than 6.");
      if (d !== 'src' && d !== 'dst') return err("You must specify (the comma separated list of) 'src' or 'dst'.");
      dirs.push(d);
    }
    return { name: name!, dirs };
  },
  print: (v) => [v.name, v.dirs.join(',')],
  arb: (fc) =>
    fc.record({
      name: fc.constantFrom('allowed', 'blocked'),
      dirs: fc.array(fc.constantFrom<'src' | 'dst'>('src', 'dst'), { minLength: 1, maxLength: 2 }),
    }),
};

/** NFQUEUE --queue-balance FROM:TO (libxt_NFQUEUE parse_v1: FROM must be below TO, both 16 bits). */
const queueBalance: Kind<NumRange> = {
  arity: 1,
  parse: ([t]) => {
    const m = /^([^:]*):(.*)$/.exec(t!);
    const a = m ? parseCNumber(m[1]!, 65535) : undefined;
    const b = m ? parseCNumber(m[2]!, 65535) : undefined;
    if (a === undefined || b === undefined) return err(`bad range "${t}"`);
    if (a >= b) return err(`${a} should be less than ${b}`);
    return [a, b];
  },
  print: (v) => [`${v[0]}:${v[1]}`],
  arb: (fc) => fc.tuple(fc.nat({ max: 100 }), fc.integer({ min: 1, max: 100 })).map(([a, n]) => [a, a + n]),
};

/** CT --zone/--zone-orig/--zone-reply: a 16-bit id, or "mark" (the zone is taken from the packet mark). */
const ctZone: Kind<number | string> = {
  arity: 1,
  parse: ([t]) => (t === 'mark' ? 'mark' : (parseCNumber(t!, 65535) ?? err(`bad zone "${t}"`))),
  print: (v) => [`${v}`],
  arb: (fc) => fc.oneof(fc.nat({ max: 65535 }), fc.constant('mark')),
};

/** A helper name (CT --helper): the kernel refuses one it does not have (ENOENT). */
const helperName: Kind<string> = {
  arity: 1,
  parse: ([t]) => (t!.length > 15 ? err('helper name too long') : t!),
  print: (v) => [v],
  arb: (fc) => fc.constantFrom('ftp', 'tftp'),
};

/** A host address without a mask (TPROXY --on-ip, XTTYPE_HOST: getaddrinfo, so inet_aton's forms: "1.2.3" is
 *  1.2.0.3), printed dotted. */
const ipAddr: Kind<U32> = {
  arity: 1,
  parse: ([t]) => inetAton(t!) ?? err(`Bad IP address "${t}"`),
  print: (v) => [formatIp(v)],
  arb: (fc) => fc.nat({ max: 0xffffffff }),
};

/** libxt_limit: rates are kept as the average period in 1/XT_LIMIT_SCALE (10000) of a second. */
const LIMIT_UNITS: readonly (readonly [string, number])[] = [
  ['day', 10000 * 24 * 60 * 60],
  ['hour', 10000 * 60 * 60],
  ['min', 10000 * 60],
  ['sec', 10000],
];
/** libxt_limit parse_rate: N[/second|minute|hour|day, any case-insensitive prefix]; N as atoi reads it. */
const limitRate: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const slash = t!.indexOf('/');
    let mult = 1;
    if (slash >= 0) {
      const u = t!.slice(slash + 1).toLowerCase();
      const unit = [
        ['second', 1],
        ['minute', 60],
        ['hour', 3600],
        ['day', 86400],
      ].find(([n]) => u !== '' && (n as string).startsWith(u));
      if (!unit) return err(`bad rate "${t}"'`);
      mult = unit[1] as number;
    }
    const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(t!);
    const r = m ? Number(m[1]) : 0;
    if (r === 0 || !Number.isSafeInteger(r)) return err(`bad rate "${t}"'`);
    // atoi into a uint32_t: a negative rate is huge, and the period rounds to 0
    const period = r < 0 ? 0 : Math.floor((10000 * mult) / r);
    if (period === 0) return err(`Rate too fast "${t}"`);
    return period;
  },
  // print_rate: the largest unit that still divides well
  print: (v) => {
    let i = 1;
    for (; i < LIMIT_UNITS.length; i++) {
      const mult = LIMIT_UNITS[i]![1];
      if (v > mult || Math.floor(mult / v) < mult % v) break;
    }
    const [name, mult] = LIMIT_UNITS[i - 1]!;
    return [`${Math.floor(mult / v)}/${name}`];
  },
  arb: (fc) =>
    fc
      .tuple(fc.integer({ min: 1, max: 100 }), fc.constantFrom(10000, 600000, 36000000))
      .map(([r, mult]) => Math.floor(mult / r)),
};

/** connlimit --connlimit-mask: a prefix length read for any family (up to 128); IPv4 keeps at most 32. */
const plenMask: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const n = parseCNumber(t!, 128);
    return n === undefined ? err(`bad prefix length "${t}"`) : Math.min(n, 32);
  },
  print: (v) => [`${v}`],
  arb: (fc) => fc.integer({ min: 0, max: 32 }),
};

export const MODULE_KINDS = {
  limitRate,
  plenMask,
  uidRange: idRange('users'),
  gidRange: idRange('groups'),
  mac,
  ipRange,
  pktType,
  ifaceName,
  setMatch,
  queueBalance,
  ctZone,
  helperName,
  ipAddr,
} as const;
