// How limit, hashlimit, string, u32 and time decide (spec/modules.md), each after its kernel source
// (net/netfilter/xt_*.c). Merged into MATCHERS (matchers.ts), keyed by descriptor name.
import type { ExtInstance } from '../rules/types.ts';
import type { NumRange } from '../rules/kinds.ts';
import { printRuleSpec } from '../rules/print.ts';
import {
  hlGuaranteed,
  limitGuaranteed,
  HL_MODE,
  DATE_MAX,
  parseU32Expr,
  type U32Test,
} from '../rules/kinds-modules-more.ts';
import { optValue, valueAs } from './options.ts';
import type { Test, MatchEnv } from './matchers.ts';
import type { Pkt } from './packet.ts';
import type { CompiledRule } from './chains.ts';
import { open } from './matchers-modules.ts';

type Builder = (ext: ExtInstance) => Test;

/**
 * One packet meets a bucket that held `packets` tokens when fresh: it surely passes while no more packets than
 * that may have spent one (a bucket starts full and only refills with time: xt_limit.c limit_mt,
 * xt_hashlimit.c rateinfo_init/rateinfo_recalc, nft_limit.c), and only in a rule the model sees every packet of
 * (eval/buckets.ts). Beyond that, or elsewhere, the answer rests on time the lab cannot pin: unknown.
 */
function spend(env: MatchEnv, key: string, packets: number, passes: boolean, why: string): boolean {
  if (!env.rule?.pinned) return env.unknown(why);
  const n = (env.state.tokens.get(key) ?? 0) + 1;
  env.state.tokens.set(key, n);
  if (n <= packets && !env.state.tokens.has('*')) return passes;
  return env.unknown(why);
}

const ruleKeys = new WeakMap<CompiledRule, string>();
/** xt_limit keeps one bucket per rule: keyed by its text, so that a rule keeps its count when the ruleset
 *  changes around it; a legacy table replace or a restore refills it (world-commands.ts restartLimits), where
 *  else the kernel starts it afresh (nft -R with the same text) the count only errs high */
function ruleKey(env: MatchEnv): string {
  const r = env.rule!;
  let k = ruleKeys.get(r);
  if (k === undefined) ruleKeys.set(r, (k = `limit:${r.table}/${r.chain}/${printRuleSpec(r.rule)}`));
  return k;
}

const maskl = (a: number, len: number) => (len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0);
/** proto_ports_offset: the protocols whose first four bytes are ports (others hash ports 0) */
const HAS_PORTS = new Set([6, 17, 33, 132, 136]);

// ---- u32: the packet as known bits (spec/modules.md lists the bytes the model carries)

interface Bits {
  /** value of the known bits */
  v: number;
  /** which bits are known */
  k: number;
}
type Read = Bits | 'out' | 'unknown';

/** The bytes the model knows from the network header on; undefined = not carried. */
function knownBytes(p: Pkt): { bytes: (Bits | undefined)[]; minLen: number } {
  const b: (Bits | undefined)[] = new Array(20).fill(undefined);
  const byte = (v: number): Bits => ({ v: v & 0xff, k: 0xff });
  // version 4, IHL 5: the lab's packets carry no IP options
  b[0] = byte(0x45);
  // flags and fragment offset: no MF, offset 0 (the lab sends no fragments); DF is not carried
  b[6] = { v: 0, k: 0xbf };
  b[7] = byte(0);
  // the TTL the model follows (spec/semantics.md §3)
  b[8] = byte(p.ttl);
  b[9] = byte(p.proto);
  for (let i = 0; i < 4; i++) {
    b[12 + i] = byte(p.src >>> (24 - 8 * i));
    b[16 + i] = byte(p.dst >>> (24 - 8 * i));
  }
  let l4 = 0;
  if (p.proto === 6 || p.proto === 17) {
    b.push(byte(p.sport >>> 8), byte(p.sport), byte(p.dport >>> 8), byte(p.dport));
    if (p.proto === 6) {
      for (let i = 4; i < 20; i++) b.push(undefined);
      // the flags the model follows (FIN..URG); ECE and CWR are not carried
      b[20 + 13] = { v: p.tcpFlags & 0x3f, k: 0x3f };
      l4 = 20;
    } else {
      b.push(undefined, undefined, undefined, undefined);
      l4 = 8;
    }
  } else if (p.proto === 1) {
    b.push(byte(p.icmpType), byte(p.icmpCode), undefined, undefined);
    // an echo's identifier (the model's sport)
    if (p.icmpType === 8 || p.icmpType === 0) b.push(byte(p.sport >>> 8), byte(p.sport));
    else b.push(undefined, undefined);
    b.push(undefined, undefined);
    l4 = 8;
  }
  return { bytes: b, minLen: 20 + l4 };
}

function readWord(view: ReturnType<typeof knownBytes>, pos: number): Read {
  if (pos > 0xffff - 4) return 'out';
  if (pos + 4 > view.minLen) return 'unknown';
  let v = 0;
  let k = 0;
  for (let i = 0; i < 4; i++) {
    const x = view.bytes[pos + i];
    v = ((v << 8) | (x?.v ?? 0)) >>> 0;
    k = ((k << 8) | (x?.k ?? 0)) >>> 0;
  }
  return { v: (v & k) >>> 0, k };
}

/** u32_match_it, one test, three-valued */
function u32Test(t: U32Test, view: ReturnType<typeof knownBytes>): boolean | undefined {
  let r = readWord(view, t.first);
  if (r === 'out') return false;
  if (r === 'unknown') return undefined;
  let val: Bits = r;
  let at = 0;
  for (const [op, n] of t.steps) {
    // shifts of 32 or more: x86 takes the count modulo 32
    const s = n & 31;
    if (op === '&') val = { v: (val.v & n) >>> 0, k: (val.k | ~n) >>> 0 };
    else if (op === '<<') val = { v: (val.v << s) >>> 0, k: ((val.k << s) | ((1 << s) - 1)) >>> 0 };
    else if (op === '>>') val = { v: val.v >>> s, k: ((val.k >>> s) | ~(0xffffffff >>> s)) >>> 0 };
    else {
      if (val.k !== 0xffffffff) return undefined;
      at += val.v;
      if (at > 0xffffffff) return false;
      r = readWord(view, at + n);
      if (r === 'out') return false;
      if (r === 'unknown') return undefined;
      val = r;
    }
  }
  const lo = (val.v & val.k) >>> 0;
  const hi = (val.v | ~val.k) >>> 0;
  if (t.ranges.some(([a, b]) => a <= lo && hi <= b)) return true;
  if (val.k === 0xffffffff || t.ranges.every(([a, b]) => b < lo || a > hi)) return false;
  return undefined;
}

export const MODULE_MORE_MATCHERS: Record<string, Builder> = {
  limit: (ext) => {
    const period = optValue(ext, '--limit', 'limitRate')!;
    const burst = optValue(ext, '--limit-burst', 'uint') ?? 5;
    const packets = limitGuaranteed(period, burst);
    const why = 'limit: the token bucket refills with time the lab cannot pin';
    return (_p, env) => spend(env, ruleKey(env), packets, true, why);
  },
  hashlimit: (ext) => {
    const rate = ext.opts.find((o) => o.name === '--hashlimit-upto' || o.name === '--hashlimit-above')!;
    const above = rate.name === '--hashlimit-above';
    const [period] = rate.value as NumRange;
    const burst = optValue(ext, '--hashlimit-burst', 'hlBurst') ?? 5;
    const mode = optValue(ext, '--hashlimit-mode', 'hlMode') ?? 0;
    const name = optValue(ext, '--hashlimit-name', 'hlName')!;
    const srcmask = optValue(ext, '--hashlimit-srcmask', 'hlPlen') ?? 32;
    const dstmask = optValue(ext, '--hashlimit-dstmask', 'hlPlen') ?? 32;
    const { packets } = hlGuaranteed(period!, burst);
    const why = `hashlimit: the bucket of "${name}" refills with time the lab cannot pin`;
    // hashlimit_init_dst: the fields the mode names, masked; ports only for protocols that have them
    return (p, env) => {
      const ports = HAS_PORTS.has(p.proto);
      const key =
        `hashlimit:${name}|${mode & HL_MODE.srcip ? maskl(p.src, srcmask) : ''}|` +
        `${mode & HL_MODE.dstip ? maskl(p.dst, dstmask) : ''}|${mode & HL_MODE.srcport && ports ? p.sport : ''}|` +
        `${mode & HL_MODE.dstport && ports ? p.dport : ''}`;
      return spend(env, key, packets, !above, why);
    };
  },
  // the bytes it searches start at the network header: header fields the model does not carry (IP id,
  // checksum, TTL, TCP sequence numbers, options) and payloads
  string: open('string: the packet bytes it searches are not modelled'),
  u32: (ext) => {
    const o = ext.opts[0]!;
    const tests = parseU32Expr(valueAs(ext.name, o, 'u32Expr')) as U32Test[];
    const why = 'u32: it reads bytes the model does not carry';
    return (p, env) => {
      const view = knownBytes(p);
      let all: boolean | undefined = true;
      for (const t of tests) {
        const r = u32Test(t, view);
        if (r === false) return o.neg;
        if (r === undefined) all = undefined;
      }
      return all === undefined ? env.unknown(why) : !o.neg;
    };
  },
  time: (ext) => {
    // time_mt: with no window, every day and the default dates, it holds until 2038-01-19 (DATE_MAX)
    const free = ext.opts.every((o) => o.name === '--datestop' && o.value === DATE_MAX);
    const why = 'time: the wall-clock time of the packet is not pinned in the lab';
    return (_p, env) => (free ? true : env.unknown(why));
  },
};
