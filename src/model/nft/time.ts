// nft's time values (nftables src/datatype.c time_parse / time_print): "3h", "1m30s", "1d2h3m4s5ms", units in
// decreasing order, each given once, lowercase; a bare number is a syntax error (measured, nft 1.0.6). The
// kernel keeps a timeout in jiffies (net/netfilter/nf_tables_api.c nf_msecs_to_jiffies64 truncates), so a
// value lists rounded down to a whole jiffy: 4 ms on this machine's kernel (HZ=250; measured: 5ms lists 4ms).

const UNITS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

const TIME = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds of a time word, or undefined when it is not one. */
export function parseNftTime(text: string): number | undefined {
  const m = TIME.exec(text);
  if (!m || text === '') return undefined;
  let ms = 0;
  for (let i = 0; i < UNITS.length; i++) if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * UNITS[i]![1];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The kernel's jiffy, in ms (HZ=250, measured). */
export const JIFFY_MS = 4;

/** A timeout as the kernel keeps it: whole jiffies. */
export const inJiffies = (ms: number): number => Math.floor(ms / JIFFY_MS) * JIFFY_MS;

/** As nft lists it: "3h", "1m30s", "996ms"; 0 is "0s". */
export function printNftTime(ms: number): string {
  let rest = ms;
  let out = '';
  for (const [u, n] of UNITS) {
    const k = Math.floor(rest / n);
    rest -= k * n;
    if (k) out += `${k}${u}`;
  }
  return out || '0s';
}
