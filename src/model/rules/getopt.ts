// getopt_long(3) as iptables calls it (glibc; iptables/xshared.c do_parse): long
// options may be abbreviated to any unambiguous prefix of the options known at that
// point, take their argument as `--opt=value` or as the next word, and short options
// may be clustered (`-fv`) or carry their argument attached (`-ptcp`).

/** One entry of the option table. Entries with the same `key` are one option (aliases): not ambiguous. */
export interface LongOption<O> {
  name: string;
  /** 0: no argument, 1: required */
  hasArg: 0 | 1;
  key: string;
  owner: O;
}

export type Resolved<O> =
  { kind: 'found'; opt: LongOption<O> } | { kind: 'unknown' } | { kind: 'ambiguous'; candidates: string[] };

/** glibc process_long_option: an exact name first, else the only option (by key) the prefix selects. */
export function resolveLong<O>(table: readonly LongOption<O>[], name: string): Resolved<O> {
  const exact = table.find((o) => o.name === name);
  if (exact) return { kind: 'found', opt: exact };
  if (name === '') return { kind: 'unknown' };
  const pre = table.filter((o) => o.name.startsWith(name));
  if (pre.length === 0) return { kind: 'unknown' };
  const first = pre[0]!;
  if (pre.some((o) => o.key !== first.key || o.hasArg !== first.hasArg))
    return { kind: 'ambiguous', candidates: [...new Set(pre.map((o) => `--${o.name}`))] };
  return { kind: 'found', opt: first };
}

/** Short options of iptables (IPT_OPTSTRING): letter -> takes an argument (2: optional, only attached). */
export const SHORT_OPTIONS: Readonly<Record<string, 0 | 1 | 2>> = {
  A: 1, C: 1, D: 1, E: 1, F: 2, I: 1, L: 2, M: 1, N: 1, P: 1, V: 0, X: 2, Z: 2,
  c: 1, d: 1, i: 1, j: 1, o: 1, p: 1, s: 1, t: 1, R: 1, S: 2, W: 2,
  '4': 0, '6': 0, b: 0, f: 0, g: 1, h: 2, m: 1, n: 0, v: 0, w: 2, x: 0,
}; // prettier-ignore

/** The long options every iptables command knows (iptables/iptables.c original_opts), as short letters. */
export const ORIGINAL_OPTS: readonly (readonly [string, 0 | 1 | 2, string])[] = [
  ['append', 1, 'A'],
  ['delete', 1, 'D'],
  ['check', 1, 'C'],
  ['insert', 1, 'I'],
  ['replace', 1, 'R'],
  ['list', 2, 'L'],
  ['list-rules', 2, 'S'],
  ['flush', 2, 'F'],
  ['zero', 2, 'Z'],
  ['new-chain', 1, 'N'],
  ['delete-chain', 2, 'X'],
  ['rename-chain', 1, 'E'],
  ['policy', 1, 'P'],
  ['source', 1, 's'],
  ['destination', 1, 'd'],
  ['src', 1, 's'],
  ['dst', 1, 'd'],
  ['protocol', 1, 'p'],
  ['in-interface', 1, 'i'],
  ['jump', 1, 'j'],
  ['table', 1, 't'],
  ['match', 1, 'm'],
  ['numeric', 0, 'n'],
  ['out-interface', 1, 'o'],
  ['verbose', 0, 'v'],
  ['wait', 2, 'w'],
  ['wait-interval', 2, 'W'],
  ['exact', 0, 'x'],
  ['fragments', 0, 'f'],
  ['version', 0, 'V'],
  ['help', 2, 'h'],
  ['line-numbers', 0, '0'],
  ['modprobe', 1, 'M'],
  ['set-counters', 1, 'c'],
  ['goto', 1, 'g'],
  ['ipv4', 0, '4'],
  ['ipv6', 0, '6'],
];
