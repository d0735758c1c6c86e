// The descriptor entries of hashlimit, string, u32 and time (spec/modules.md): part of THE descriptor table
// (descriptors.ts appends them to EXTENSIONS). Option order is the order iptables-save 1.8.9 prints them in,
// measured on both flavors with real iptables-restore/iptables-save in `unshare -n`.
import type { ExtensionDesc } from './descriptors.ts';
import type { NumRange } from './kinds.ts';
import type { ExtInstance, OptInstance } from './types.ts';
import {
  HL_BYTES,
  hlPrintRate,
  isHexPattern,
  ALL_WEEKDAYS,
  ALL_MONTHDAYS,
  DATE_MAX,
  hlGuaranteed,
} from './kinds-modules-more.ts';

const opt = (e: ExtInstance, name: string) => e.opts.find((o) => o.name === name);
const has = (e: ExtInstance, name: string) => e.opts.some((o) => o.name === name);

/** hashlimit_mt_check_common: size and max above HASHLIMIT_MAX_SIZE are cut to it (iptables-save shows it) */
const HASHLIMIT_MAX_SIZE = 1048576;

/** libxt_hashlimit: "! --hashlimit-upto" is "--hashlimit-above" and back; the default htable-expire is the
 *  written unit in ms, printed only when it differs from the printed unit's (print_rate's quantum). */
function normalizeHashlimit(opts: OptInstance[]): OptInstance[] {
  let out = opts.map((o) =>
    o.neg && (o.name === '--hashlimit-upto' || o.name === '--hashlimit-above')
      ? { ...o, neg: false, name: o.name === '--hashlimit-upto' ? '--hashlimit-above' : '--hashlimit-upto' }
      : o,
  );
  out = out.map((o) =>
    (o.name === '--hashlimit-htable-size' || o.name === '--hashlimit-htable-max') &&
    (o.value as number) > HASHLIMIT_MAX_SIZE
      ? { ...o, value: HASHLIMIT_MAX_SIZE }
      : o,
  );
  const rate = out.find((o) => o.name === '--hashlimit-upto' || o.name === '--hashlimit-above');
  const r = rate?.value as NumRange | undefined;
  if (!rate || !r || r[0] === HL_BYTES[0]) return out;
  const expire = out.find((o) => o.name === '--hashlimit-htable-expire');
  const value = (expire?.value as number | undefined) ?? r[1] * 1000;
  out = out.filter((o) => o !== expire && o !== rate);
  out.push({ ...rate, value: [r[0], 0] });
  if (value !== hlPrintRate(r[0]).quantumMs) out.push({ name: '--hashlimit-htable-expire', neg: false, value });
  return out;
}

/** libxt_time: negated day lists are complemented; --timestart/--timestop are printed both or neither (the
 *  defaults 00:00:00 and 23:59:59); every day is no day restriction; --localtz is --kerneltz. */
function normalizeTime(opts: OptInstance[]): OptInstance[] {
  let out = opts.map((o) => {
    if (o.neg && o.name === '--weekdays') return { ...o, neg: false, value: ~(o.value as number) & ALL_WEEKDAYS };
    if (o.neg && o.name === '--monthdays')
      return { ...o, neg: false, value: (~(o.value as number) & ALL_MONTHDAYS) >>> 0 };
    return o;
  });
  const start = out.find((o) => o.name === '--timestart');
  const stop = out.find((o) => o.name === '--timestop');
  out = out.filter((o) => o.name !== '--timestart' && o.name !== '--timestop' && o.name !== '--utc');
  const s = (start?.value as number | undefined) ?? 0;
  const e = (stop?.value as number | undefined) ?? 86399;
  if (s !== 0 || e !== 86399)
    out.push({ name: '--timestart', neg: false, value: s }, { name: '--timestop', neg: false, value: e });
  return out.filter(
    (o) =>
      !(o.name === '--weekdays' && o.value === ALL_WEEKDAYS) &&
      !(o.name === '--monthdays' && o.value === ALL_MONTHDAYS) &&
      !(o.name === '--datestart' && o.value === 0),
  );
}

/** libxt_string: the pattern is printed as --hex-string when it has a byte that is not printable (or ends in
 *  a backslash), else as --string, whichever option gave it */
function normalizeString(opts: OptInstance[]): OptInstance[] {
  return opts.map((o) =>
    o.name === '--string' || o.name === '--hex-string'
      ? { ...o, name: isHexPattern(o.value as string) ? '--hex-string' : '--string' }
      : o,
  );
}

export const MODULE_MORE_EXTENSIONS: readonly ExtensionDesc[] = [
  {
    // xt_hashlimit.c: a token bucket per hash key (the packet fields --hashlimit-mode names), in a table shared
    // by every rule of the same --hashlimit-name (spec/modules.md)
    name: 'hashlimit',
    type: 'match',
    options: [
      { name: '--hashlimit-upto', aliases: ['--hashlimit'], kind: 'hlRate', negatable: true, group: 'hl-rate' },
      { name: '--hashlimit-above', kind: 'hlRate', negatable: true, group: 'hl-rate' },
      // printed for packet rates (the model keeps byte rates opaque)
      { name: '--hashlimit-burst', kind: 'hlBurst', fill: 5 },
      { name: '--hashlimit-mode', kind: 'hlMode', omitWhen: (v) => v === 0 },
      { name: '--hashlimit-name', kind: 'hlName' },
      { name: '--hashlimit-htable-size', kind: 'uint', omitWhen: (v) => v === 0, noArb: true },
      { name: '--hashlimit-htable-max', kind: 'uint', omitWhen: (v) => v === 0, noArb: true },
      { name: '--hashlimit-htable-gcinterval', kind: 'uint', omitWhen: (v) => v === 1000, noArb: true },
      // set by normalize when it differs from the printed rate's unit
      { name: '--hashlimit-htable-expire', kind: 'uint', noArb: true },
      { name: '--hashlimit-srcmask', kind: 'hlPlen', omitWhen: (v) => v === 32 },
      { name: '--hashlimit-dstmask', kind: 'hlPlen', omitWhen: (v) => v === 32 },
    ],
    more: [
      ['--hashlimit-rate-match', 0],
      ['--hashlimit-rate-interval', 1],
    ],
    normalize: normalizeHashlimit,
    check: (e) => {
      const rate = (opt(e, '--hashlimit-upto') ?? opt(e, '--hashlimit-above'))?.value as NumRange | undefined;
      if (!rate) return 'You have to specify --hashlimit';
      const name = opt(e, '--hashlimit-name')?.value as string | undefined;
      if (name === undefined) return 'hashlimit: option "--hashlimit-name" must be specified';
      if (rate[0] === HL_BYTES[0]) return 'unsupported: hashlimit byte rates (Nb/s)';
      // hashlimit_mt_check: xt_check_proc_name, then hashlimit_mt_check_common
      if (name === '.' || name === '..' || name.includes('/'))
        return `hashlimit: name "${name}" is not a valid /proc name (the kernel refuses it: EINVAL)`;
      for (const n of ['--hashlimit-srcmask', '--hashlimit-dstmask'])
        if (((opt(e, n)?.value as number | undefined) ?? 32) > 32) return `hashlimit: ${n} above 32 (EINVAL)`;
      if (opt(e, '--hashlimit-htable-gcinterval')?.value === 0 || opt(e, '--hashlimit-htable-expire')?.value === 0)
        return 'hashlimit: a zero gcinterval or expire (the kernel refuses it: EINVAL)';
      const burst = (opt(e, '--hashlimit-burst')?.value as number | undefined) ?? 5;
      if (hlGuaranteed(rate[0], burst).overflow)
        return 'hashlimit: overflow, try lower (the kernel refuses it: ERANGE)';
      return undefined;
    },
  },
  {
    // xt_string.c: a text search in the packet from the network header on (spec/modules.md: never decided)
    name: 'string',
    type: 'match',
    options: [
      { name: '--string', kind: 'strPattern', negatable: true, group: 'str-pattern' },
      { name: '--hex-string', kind: 'strHex', negatable: true, group: 'str-pattern' },
      { name: '--algo', kind: 'strAlgo' },
      { name: '--from', kind: 'uint', range: [0, 65535], omitWhen: (v) => v === 0 },
      { name: '--to', kind: 'uint', range: [0, 65535], omitWhen: (v) => v === 65535 },
      { name: '--icase', kind: 'flag' },
    ],
    normalize: normalizeString,
    check: (e) => {
      if (!has(e, '--algo')) return 'string: option "--algo" must be specified';
      const pat = (opt(e, '--string') ?? opt(e, '--hex-string'))?.value as string | undefined;
      if (pat === undefined) return "STRING match: You must specify `--string' or `--hex-string'";
      // string_mt_check: an empty pattern, or --from after --to, is EINVAL; an unknown algorithm is ENOENT
      if (pat === '') return 'string: an empty pattern (the kernel refuses it: EINVAL)';
      const from = (opt(e, '--from')?.value as number | undefined) ?? 0;
      const to = (opt(e, '--to')?.value as number | undefined) ?? 65535;
      if (from > to) return `string: --from ${from} is after --to ${to} (the kernel refuses it: EINVAL)`;
      const algo = opt(e, '--algo')!.value as string;
      if (!['bm', 'kmp', 'fsm'].includes(algo))
        return `string: no textsearch algorithm "${algo}" in this kernel (ENOENT)`;
      const fsm = algo === 'fsm' ? fsmProblem(pat, has(e, '--icase')) : undefined;
      return fsm && `string: --algo fsm ${fsm} (the kernel refuses it: EINVAL)`;
    },
  },
  {
    // xt_u32.c: tests on 32-bit words read at offsets from the network header
    name: 'u32',
    type: 'match',
    options: [{ name: '--u32', kind: 'u32Expr', negatable: true }],
    check: (e) => (has(e, '--u32') ? undefined : 'u32: option "--u32" must be specified'),
  },
  {
    // xt_time.c: the packet's arrival time against dates, a daily window and days (wall-clock time)
    name: 'time',
    type: 'match',
    options: [
      { name: '--timestart', kind: 'dayTime' },
      { name: '--timestop', kind: 'dayTime' },
      { name: '--monthdays', kind: 'monthdays', negatable: true },
      { name: '--weekdays', kind: 'weekdays', negatable: true },
      { name: '--datestart', kind: 'date' },
      // libxt_time time_print_date prints no date 0: a --datestop of 1970-01-01T00:00:00 (matching nothing) is
      // saved as no --datestop, which iptables-restore reads as the default (spec/iptables.md §4)
      { name: '--datestop', kind: 'date', fill: DATE_MAX, unprintedWhen: (v) => v === 0 },
      { name: '--kerneltz', aliases: ['--localtz'], kind: 'flag', group: 'time-tz' },
      { name: '--contiguous', kind: 'flag' },
      { name: '--utc', kind: 'flag', group: 'time-tz', omitWhen: () => true },
    ],
    normalize: normalizeTime,
    check: (e) => {
      const s = (opt(e, '--timestart')?.value as number | undefined) ?? 0;
      const t = (opt(e, '--timestop')?.value as number | undefined) ?? 86399;
      if (has(e, '--contiguous') && s < t)
        return 'time: --contiguous only makes sense when stoptime is smaller than starttime';
      return undefined;
    },
  },
];

/** lib/ts_fsm.c fsm_init: an fsm pattern is not text but an array of 4-byte tokens (u16 type in host order,
 *  little-endian here; u8 recur; u8 value), types up to TS_FSM_SPACE (13), recurrences up to
 *  TS_FSM_HEAD_IGNORE (4), which only a first token of several may have; no --icase. */
function fsmProblem(pattern: string, icase: boolean): string | undefined {
  if (pattern.length % 4 !== 0) return `needs a pattern of 4-byte tokens (${pattern.length} bytes)`;
  if (icase) return 'cannot ignore case';
  const tokens = pattern.length / 4;
  for (let i = 0; i < tokens; i++) {
    const b = (k: number): number => pattern.charCodeAt(4 * i + k);
    if (b(0) + 256 * b(1) > 13) return `token ${i + 1}: no match type ${b(0) + 256 * b(1)}`;
    if (b(2) > 4) return `token ${i + 1}: no recurrence ${b(2)}`;
    if (b(2) === 4 && (i !== 0 || tokens === 1)) return `token ${i + 1}: head-ignore only on a first token of several`;
  }
  return undefined;
}
