// Value kinds of hashlimit, string, u32 and time (spec/modules.md): each parses as its libxt_*.c parser does
// (iptables 1.8.9) and prints as iptables-save prints, measured on both flavors in `unshare -n`
// (test/unit/modules-more-parse.test.ts keeps the measured pairs).
import type { Kind, NumRange } from './kinds.ts';

const err = (error: string) => ({ error });

/** strtoumax(s, &end, 0) as libxtables calls it: leading blanks, an optional '+', then 0x hex, 0 octal or
 *  decimal; returns the value and the rest of the text (undefined when no digit was read). */
export function strtoumax(s: string): { v: number; rest: string } | undefined {
  const m = /^[ \t\n\v\f\r]*\+?(?:(0[xX])([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))/.exec(s);
  if (!m) return undefined;
  const v = m[2] !== undefined ? parseInt(m[2], 16) : m[3] !== undefined ? parseInt(m[3], 8) : Number(m[4]);
  return Number.isSafeInteger(v) ? { v, rest: s.slice(m[0].length) } : undefined;
}

// ---- hashlimit (libxt_hashlimit.c, revision 3)

/** XT_HASHLIMIT_SCALE_v2: rates are kept as the period in 1/1000000 s */
export const HL_SCALE = 1_000_000;
const HL_UNITS: readonly (readonly [string, number])[] = [
  ['second', 1],
  ['minute', 60],
  ['hour', 3600],
  ['day', 86400],
];
/** print_rate's units, largest first */
const HL_PRINT: readonly (readonly [string, number])[] = [
  ['day', HL_SCALE * 86400],
  ['hour', HL_SCALE * 3600],
  ['min', HL_SCALE * 60],
  ['sec', HL_SCALE],
];

/** print_rate: the largest unit that divides well; also the expire time (ms) that goes without saying. */
export function hlPrintRate(period: number): { text: string; quantumMs: number } {
  let i = 1;
  for (; i < HL_PRINT.length; i++) {
    const mult = HL_PRINT[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = HL_PRINT[i - 1]!;
  return { text: `${Math.floor(mult / period)}/${name}`, quantumMs: (mult / HL_SCALE) * 1000 };
}

/** A byte rate ("Nkb/s"): read, kept opaque (spec/modules.md) */
export const HL_BYTES: NumRange = [-1, 0];

/** parse_rate (revision 3): N[/second|minute|hour|day, any case-insensitive prefix], N as atoll reads it;
 *  the value is [period, the written unit in seconds] (the unit gives the default htable-expire). */
const hlRate: Kind<NumRange> = {
  arity: 1,
  parse: ([t]) => {
    const b = t!.indexOf('b/s');
    if (b > 0) return HL_BYTES;
    const slash = t!.indexOf('/');
    let mult = 1;
    if (slash >= 0) {
      const u = t!.slice(slash + 1).toLowerCase();
      const unit = HL_UNITS.find(([n]) => u !== '' && n.startsWith(u));
      if (!unit) return err(`bad rate "${t}"`);
      mult = unit[1];
    }
    const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(t!);
    const r = m ? Number(m[1]) : 0;
    if (r === 0 || !Number.isSafeInteger(r)) return err(`bad rate "${t}"`);
    // a negative N is huge as a uint64_t: the period rounds to 0
    const period = r < 0 ? 0 : Math.floor((HL_SCALE * mult) / r);
    if (period === 0) return err(`Rate too fast "${t}"`);
    return [period, mult];
  },
  print: (v) => [hlPrintRate(v[0]).text],
  arb: (fc) =>
    fc
      .tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(1, 60, 3600))
      .map(([r, mult]) => [Math.floor((HL_SCALE * mult) / r), 0] as NumRange),
};

/** parse_burst: a C number (at least 1; at most 1000000 when nothing follows), times 1024 after 'k', 1048576
 *  after 'm' (anything else after it is ignored); the fcheck refuses more than 1000000 packets. */
const hlBurst: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const bad = err('bad value for option "--hashlimit-burst", or out of range (1-1000000).');
    const n = strtoumax(t!);
    if (!n || n.v < 1 || (n.rest === '' && n.v > 1_000_000)) return bad;
    const v = n.v * (n.rest[0] === 'k' ? 1024 : n.rest[0] === 'm' ? 1024 * 1024 : 1);
    return v > 1_000_000 ? bad : v;
  },
  print: (v) => [`${v}`],
  arb: (fc) => fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10000 })),
};

/** XT_HASHLIMIT_HASH_*: the packet fields that pick a bucket */
export const HL_MODE = { dstip: 1, dstport: 2, srcip: 4, srcport: 8 } as const;
const HL_MODE_ORDER = ['srcip', 'srcport', 'dstip', 'dstport'] as const;

/** parse_mode: names separated by ',' or '|' (empty pieces skipped); printed srcip,srcport,dstip,dstport. */
const hlMode: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    let mode = 0;
    for (const tok of t!.split(/[,|]/).filter((x) => x !== '')) {
      if (!Object.hasOwn(HL_MODE, tok)) return err(`bad value for option "--hashlimit-mode": "${t}"`);
      mode |= HL_MODE[tok as keyof typeof HL_MODE];
    }
    return mode;
  },
  print: (v) => [HL_MODE_ORDER.filter((n) => v & HL_MODE[n]).join(',')],
  arb: (fc) => fc.integer({ min: 1, max: 15 }),
};

/** --hashlimit-name: XTTYPE_STRING, at least one character; the kernel refuses "", ".", ".." and any '/'
 *  (xt_check_proc_name) */
const hlName: Kind<string> = {
  arity: 1,
  parse: ([t]) => (t!.length === 0 ? err('Argument must have a minimum length of 1 characters') : t!.slice(0, 255)),
  print: (v) => [v],
  arb: (fc) => fc.constantFrom('lb2', 'lograte', 'ssh', 'a'),
};

/** XTTYPE_PLEN: a prefix length 0..128 (the kernel refuses more than 32 for IPv4) */
const hlPlen: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const n = strtoumax(t!);
    return n && n.rest === '' && n.v <= 128 ? n.v : err(`bad prefix length "${t}"`);
  },
  print: (v) => [`${v}`],
  arb: (fc) => fc.integer({ min: 0, max: 32 }),
};

// ---- string (libxt_string.c)

/** --string: the bytes as given (one character per byte, UTF-8 encoded); at most 128 bytes
 *  (XT_STRING_MAX_PATTERN_SIZE). The printer chooses quoted or hex as libxt_string does. */
const strPattern: Kind<string> = {
  arity: 1,
  parse: ([t]) => {
    const bytes = Buffer.from(t!, 'utf8').toString('latin1');
    return bytes.length > 128 ? err(`STRING too long "${t}"`) : bytes;
  },
  print: (v) => [printPattern(v)],
  arb: (fc) => fc.stringMatching(/^[A-Za-z0-9 ./:-]{1,12}$/),
};

/** libxt_string is_hex_string / print_hex_string / print_string */
export function isHexPattern(v: string): boolean {
  return v === '' || v.endsWith('\\') || ![...v].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) < 0x7f);
}
function printPattern(v: string): string {
  if (isHexPattern(v)) return `"|${[...v].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}|"`;
  return `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** --hex-string (parse_hex_string): text with |hex bytes| pieces (blanks inside them ignored); the result is
 *  stored as --string and printed as libxt_string prints it. */
const strHex: Kind<string> = {
  arity: 1,
  parse: ([t]) => {
    let out = '';
    let hex = false;
    const s = t!;
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\' && !hex) {
        if (i + 1 >= s.length) return err('Bad escaped character');
        out += s[++i];
        continue;
      }
      if (c === '|') {
        hex = !hex;
        continue;
      }
      if (hex) {
        if (c === ' ') continue;
        const pair = s.slice(i, i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(pair)) return err('Invalid hex char');
        out += String.fromCharCode(parseInt(pair, 16));
        i++;
        continue;
      }
      out += Buffer.from(c, 'utf8').toString('latin1');
    }
    if (hex) return err('Invalid hex block');
    return out.length > 128 ? err('STRING too long') : out;
  },
  print: (v) => [printPattern(v)],
  arb: (fc) => fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 6 }).map((b) => String.fromCharCode(...b)),
};

/** --algo: a textsearch algorithm name (this kernel has bm, kmp and fsm; others: ENOENT at load) */
const strAlgo: Kind<string> = {
  arity: 1,
  parse: ([t]) => (t!.length > 15 ? err(`algorithm name too long "${t}"`) : t!),
  print: (v) => [v],
  arb: (fc) => fc.constantFrom('bm', 'kmp'),
};

// ---- u32 (libxt_u32.c)

export type U32Op = '&' | '<<' | '>>' | '@';
export interface U32Test {
  /** the first location number, then (operator, number) pairs */
  first: number;
  steps: readonly (readonly [U32Op, number])[];
  ranges: readonly NumRange[];
}

/** XT_U32_MAXSIZE: tests, location numbers and value ranges each at most 10 */
const U32_MAX = 10;

/** u32_parse, as libxt_u32 reads an expression (errors name the character, as it does). */
export function parseU32Expr(arg: string): U32Test[] | { error: string } {
  const tests: U32Test[] = [];
  let i = 0;
  const at = () => `u32: at char ${i}:`;
  const num = (): number | { error: string } => {
    const n = strtoumax(arg.slice(i));
    if (!n || /^[ \t\n\v\f\r]*-/.test(arg.slice(i)) || n.v > 0xffffffff) return err(`${at()} expected number`);
    i = arg.length - n.rest.length;
    return n.v;
  };
  const skip = () => {
    while (i < arg.length && /\s/.test(arg[i]!)) i++;
  };
  let first: number | undefined;
  let steps: [U32Op, number][] = [];
  let ranges: NumRange[] = [];
  let state = 0;
  for (;;) {
    skip();
    if (i >= arg.length) {
      if (state === 0) return err('u32: abrupt end of input after location specifier');
      if (ranges.length === 0) return err('u32: test ended with no value specified');
      tests.push({ first: first!, steps, ranges });
      if (tests.length > U32_MAX) return err(`${at()} too many "&&"s`);
      return tests;
    }
    const c = arg[i]!;
    if (state === 0) {
      if (c === '=') {
        if (first === undefined) return err(`${at()} location spec missing`);
        i++;
        state = 1;
        continue;
      }
      let op: U32Op | undefined;
      if (first !== undefined) {
        if (c === '&') op = '&';
        else if (c === '<' || c === '>') {
          if (arg[i + 1] !== c) return err(`${at()} a second '${c}' was expected`);
          i++;
          op = c === '<' ? '<<' : '>>';
        } else if (c === '@') op = '@';
        else return err(`${at()} operator expected`);
        i++;
      }
      const n = num();
      if (typeof n !== 'number') return n;
      if (op) steps.push([op, n]);
      else first = n;
      if (steps.length + 1 > U32_MAX) return err(`${at()} too many operators`);
    } else {
      if (c === '&') {
        if (arg[i + 1] !== '&') return err(`${at()} a second '&' was expected`);
        i++;
        if (ranges.length === 0) return err(`${at()} value spec missing`);
        tests.push({ first: first!, steps, ranges });
        if (tests.length + 1 > U32_MAX) return err(`${at()} too many "&&"s`);
        i++;
        state = 0;
        first = undefined;
        steps = [];
        ranges = [];
        continue;
      }
      if (ranges.length > 0) {
        if (c !== ',') return err(`${at()} expected "," or "&&"`);
        i++;
      }
      const lo = num();
      if (typeof lo !== 'number') return lo;
      skip();
      let hi = lo;
      if (arg[i] === ':') {
        i++;
        const h = num();
        if (typeof h !== 'number') return h;
        hi = h;
      }
      ranges.push([lo, hi]);
      if (ranges.length > U32_MAX) return err(`${at()} too many ","s`);
    }
  }
}

const hx = (n: number) => `0x${n.toString(16)}`;

/** u32_dump */
export function printU32Expr(tests: readonly U32Test[]): string {
  return tests
    .map(
      (t) =>
        hx(t.first) +
        t.steps.map(([op, n]) => `${op}${hx(n)}`).join('') +
        '=' +
        t.ranges.map(([a, b]) => (a === b ? hx(a) : `${hx(a)}:${hx(b)}`)).join(','),
    )
    .join('&&');
}

/** --u32: kept as the canonical text u32_dump prints (the evaluator reads it back with parseU32Expr) */
const u32Expr: Kind<string> = {
  arity: 1,
  parse: ([t]) => {
    const r = parseU32Expr(t!);
    return 'error' in r ? r : printU32Expr(r);
  },
  print: (v) => [`"${v}"`],
  arb: (fc) => {
    // fields the model carries and fields it does not: both kinds of answer are drawn
    const loc = fc.oneof(
      fc.constant('0>>22&0x3C@0>>16'),
      fc.constant('0>>22&0x3C@0&0xFFFF'),
      fc.constant('9&0xFF'),
      fc.constant('12'),
      fc.constant('16'),
      fc.constant('0>>24'),
      fc.constant('8>>24'),
      fc.constant('0>>22&0x3C@12>>26&0x3C@0'),
      fc.integer({ min: 0, max: 40 }).map((n) => `${n}`),
    );
    const range = fc
      .tuple(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff }))
      .map(([a, b]) => (a === b ? `${a}` : `${Math.min(a, b)}:${Math.max(a, b)}`));
    const test = fc
      .tuple(loc, fc.array(range, { minLength: 1, maxLength: 3 }))
      .map(([l, rs]) => `${l}=${rs.join(',')}`);
    return fc
      .array(test, { minLength: 1, maxLength: 3 })
      .map((ts) => printU32Expr(parseU32Expr(ts.join('&&')) as U32Test[]));
  },
};

// ---- time (libxt_time.c)

/** hh:mm[:ss] (time_parse_minutes): seconds since midnight */
const dayTime: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const m = /^(\d+):(\d+)(?::(\d+))?$/.exec(t!);
    const bad = err(`invalid time "${t}" specified, should be hh:mm[:ss] format and within the boundaries`);
    if (!m) return bad;
    const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    if (h > 23 || mi > 59 || s > 59) return bad;
    return h * 3600 + mi * 60 + s;
  },
  print: (v) => [[Math.floor(v / 3600), Math.floor(v / 60) % 60, v % 60].map((x) => `${x}`.padStart(2, '0')).join(':')],
  arb: (fc) => fc.integer({ min: 0, max: 86399 }),
};

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
/** XT_TIME_ALL_WEEKDAYS: bits 1 (Monday) .. 7 (Sunday) */
export const ALL_WEEKDAYS = 0xfe;
/** XT_TIME_ALL_MONTHDAYS: bits 1 .. 31 */
export const ALL_MONTHDAYS = 0xfffffffe;

const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
/** time_parse_weekdays: a prefix of a day's name (case matters: "Mo", "Mon", "Monday") or 1..7, comma
 *  separated */
const weekdays: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    let mask = 0;
    for (const tok of t!.split(',')) {
      const n = /^\d+$/.test(tok) ? Number(tok) : WEEKDAY_NAMES.findIndex((d) => tok !== '' && d.startsWith(tok)) + 1;
      if (n === 0 && /^\d+$/.test(tok)) return err('No, the week does NOT begin with Sunday.');
      if (!(n >= 1 && n <= 7)) return err(`${tok} is not a valid day specifier`);
      mask |= 1 << n;
    }
    return mask;
  },
  print: (v) => [WEEKDAYS.filter((_, i) => v & (1 << (i + 1))).join(',')],
  arb: (fc) => fc.integer({ min: 1, max: 127 }).map((n) => n << 1),
};

/** time_parse_monthdays: numbers 1..31, comma separated */
const monthdays: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    let mask = 0;
    for (const tok of t!.split(',')) {
      const n = /^\d+$/.test(tok) ? Number(tok) : NaN;
      if (!(n >= 1 && n <= 31)) return err(`${tok} is not a valid day for --monthdays`);
      mask = (mask | (2 ** n)) >>> 0;
    }
    return mask;
  },
  print: (v) => [
    Array.from({ length: 31 }, (_, i) => i + 1)
      .filter((d) => (v >>> d) & 1)
      .join(','),
  ],
  arb: (fc) =>
    fc
      .array(fc.integer({ min: 1, max: 31 }), { minLength: 1, maxLength: 4 })
      .map((ds) => ds.reduce((m, d) => (m | (2 ** d)) >>> 0, 0)),
};

/** INT32_MAX, the default --datestop (2038-01-19T03:14:07) */
export const DATE_MAX = 0x7fffffff;

/** time_parse_date: YYYY[-MM[-DD[Thh[:mm[:ss]]]]] (years 1970..2038), read as UTC; seconds since the epoch */
const date: Kind<number> = {
  arity: 1,
  parse: ([t]) => {
    const m = /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?)?)?)?$/.exec(t!);
    if (!m) return err(`Invalid date "${t}" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`);
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((k, i) => Number(m[k] ?? (i === 1 || i === 2 ? 1 : 0)));
    if (y! < 1970 || y! > 2038 || mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59)
      return err(`Invalid date "${t}" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`);
    // timegm: out-of-range days roll over (2020-02-30 is 2020-03-01)
    return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000;
  },
  print: (v) => [new Date(v * 1000).toISOString().slice(0, 19)],
  arb: (fc) => fc.integer({ min: 0, max: DATE_MAX }),
};

export const MODULE_MORE_KINDS = {
  hlRate,
  hlBurst,
  hlMode,
  hlName,
  hlPlen,
  strPattern,
  strHex,
  strAlgo,
  u32Expr,
  dayTime,
  weekdays,
  monthdays,
  date,
} as const;

// ---- token buckets: how many packets a fresh bucket lets through whatever the time (spec/modules.md)

/** CONFIG_HZ of the lab's kernel (/proc/config.gz): the kernels' credit arithmetic depends on it */
export const KERNEL_HZ = 250n;
const U64 = (1n << 64n) - 1n;
const pow2Below = (x: bigint) => {
  let p = 1n;
  while (p * 2n <= x) p *= 2n;
  return p;
};

/** xt_hashlimit.c (revision 3): user2credits(avg * burst) and user2credits(avg) in 64-bit arithmetic; a fresh
 *  entry starts with the first and each packet costs the second. `overflow`: hashlimit_mt_check_common's
 *  ERANGE ("overflow, try lower"). */
export function hlGuaranteed(period: number, burst: number): { packets: number; overflow: boolean } {
  const cpj = pow2Below(U64 / (KERNEL_HZ * 86400n));
  const k = (KERNEL_HZ * cpj) / BigInt(HL_SCALE);
  const credits = (u: bigint) => (u * k) & U64;
  const avg = BigInt(period);
  const credit = credits((avg * BigInt(burst)) & U64);
  const cost = credits(avg);
  if (burst === 0 || credit < cost) return { packets: 0, overflow: true };
  return { packets: Number(credit / cost), overflow: false };
}

/** xt_limit.c (iptables-legacy: 32-bit credits, avg in 1/10000 s) and nft_limit.c (iptables-nft: tokens =
 *  cost * burst): the packets a fresh bucket passes on either flavor (0 for a zero burst, which nft reads
 *  as its own default) */
export function limitGuaranteed(period: number, burst: number): number {
  if (burst === 0) return 0;
  const U32 = 0xffffffffn;
  const cpj = pow2Below(U32 / (KERNEL_HZ * 86400n));
  const hzCpj = KERNEL_HZ * cpj;
  const credits = (u: bigint) => (u > U32 / hzCpj ? ((u / 10000n) * hzCpj) & U32 : ((u * hzCpj) & U32) / 10000n);
  const avg = BigInt(period);
  const credit = credits((avg * BigInt(burst)) & U32);
  const cost = credits(avg);
  if (cost === 0n) return 0;
  return Math.min(burst, Number(credit / cost));
}
