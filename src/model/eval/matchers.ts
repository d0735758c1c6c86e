// How each match module decides (spec/iptables.md §6). Keyed by the descriptor
// names; a unit test checks that every match descriptor has an evaluator.
import { type Cidr, type U32, cidrMask } from '../ip.ts';
import type { ExtInstance } from '../rules/types.ts';
import type { NumRange } from '../rules/kinds.ts';
import { optValue, valueAs, hasOpt } from './options.ts';
import type { Pkt, CtRef, HostState } from './packet.ts';
import type { Host } from '../net/topology.ts';
import { isBroadcast } from '../net/routing.ts';
import type { Hook } from '../rules/types.ts';
import { MODULE_MATCHERS } from './matchers-modules.ts';
import { MODULE_MORE_MATCHERS } from './matchers-modules-more.ts';
import type { CompiledRule } from './chains.ts';

export interface MatchEnv {
  host: Host;
  hook: Hook;
  inIf: string;
  outIf: string;
  ct: CtRef | undefined;
  state: HostState;
  now: number;
  /** a probabilistic branch: true with probability p */
  choose: (p: number, label: string) => boolean;
  /** identity of the rule being evaluated (table/chain/index), for per-rule state */
  ruleId: string;
  /** the bridge ports of a frame br_netfilter handed to the IPv4 hooks (xt_physdev; absent: not bridged) */
  phys?: { in: string; out?: string };
  /** the rule being evaluated (set by the traversal; a unit test may leave it out) */
  rule?: CompiledRule;
  /**
   * A question the model cannot answer (an unmodelled match, state the lab cannot pin: spec/semantics.md §10).
   * Both answers are followed, each in its own branch of the probe; returns this branch's answer. `why` says
   * what is not known ("match module \"foo\""). A matcher that cannot decide calls this instead of guessing.
   */
  unknown: (why: string) => boolean;
}

export type Test = (p: Pkt, env: MatchEnv) => boolean;

const inRange = (r: NumRange, v: number) => v >= r[0] && v <= r[1];
// both sides masked: conntrack addresses keep their host bits (xt_conntrack.c conntrack_addrcmp)
const inCidr = (c: Cidr, a: U32) => ((a ^ c.addr) & cidrMask(c)) >>> 0 === 0;
const xor = (neg: boolean, b: boolean) => (neg ? !b : b);

/**
 * The TTL xt_recent reads: "as seen before forwarding" (recent_mt), one more at a hook with an output device for a
 * packet without a socket of this namespace: a forwarded one (ip_forward took one), a bridged frame (nobody did),
 * REJECT's reset (nf_send_reset builds it without one). A u8: 255 + 1 is 0, which matches any entry.
 */
function ttlBeforeForwarding(p: Pkt, env: MatchEnv): number {
  const ownSocket = p.sock !== undefined && p.sock.host === env.host.name;
  return env.outIf !== '' && !ownSocket ? (p.ttl + 1) & 0xff : p.ttl;
}

/** Combines the tests of a module's options (all must hold). */
function all(tests: Test[]): Test {
  if (tests.length === 1) return tests[0]!;
  return (p, env) => {
    for (const t of tests) if (!t(p, env)) return false;
    return true;
  };
}

function ctStateOf(env: MatchEnv, p: Pkt): string {
  if (p.notrack) return 'UNTRACKED';
  return env.ct?.state ?? 'INVALID';
}

export function addrType(host: Host, a: U32, limitDev: string | undefined): string {
  if (a === 0) return 'UNSPEC';
  if (a >>> 28 === 0xe) return 'MULTICAST';
  const owner = host.local.get(a);
  if (owner !== undefined || a >>> 24 === 127) {
    if (limitDev === undefined) return 'LOCAL';
    return owner === limitDev || (owner === undefined && limitDev === 'lo') ? 'LOCAL' : 'UNICAST';
  }
  if (isBroadcast(host, a)) return 'BROADCAST';
  return 'UNICAST';
}

type Builder = (ext: ExtInstance) => Test;

export const MATCHERS: Record<string, Builder> = {
  tcp: (ext) => {
    const tests: Test[] = [];
    for (const o of ext.opts) {
      if (o.name === '--sport') {
        const r = valueAs(ext.name, o, 'portRange');
        tests.push((p) => xor(o.neg, inRange(r, p.sport)));
      }
      if (o.name === '--dport') {
        const r = valueAs(ext.name, o, 'portRange');
        tests.push((p) => xor(o.neg, inRange(r, p.dport)));
      }
      if (o.name === '--tcp-flags') {
        const f = valueAs(ext.name, o, 'tcpFlags');
        tests.push((p) => xor(o.neg, (p.tcpFlags & f.mask) === f.comp));
      }
    }
    return tests.length ? all(tests) : () => true;
  },
  udp: (ext) => MATCHERS.tcp!(ext),
  sctp: (ext) => MATCHERS.tcp!(ext),
  icmp: (ext) => {
    const o = ext.opts.find((x) => x.name === '--icmp-type');
    if (!o) return () => true;
    const t = valueAs(ext.name, o, 'icmpType');
    if (t.type === 255) return () => !o.neg;
    return (p) => xor(o.neg, p.icmpType === t.type && p.icmpCode >= t.codeLo && p.icmpCode <= t.codeHi);
  },
  multiport: (ext) => {
    const o = ext.opts[0]!;
    const list = valueAs(ext.name, o, 'portList');
    const has = (v: number) => list.some((r) => inRange(r, v));
    if (o.name === '--sports') return (p) => xor(o.neg, has(p.sport));
    if (o.name === '--dports') return (p) => xor(o.neg, has(p.dport));
    return (p) => xor(o.neg, has(p.sport) || has(p.dport));
  },
  comment: () => () => true,
  // counting only: xt_nfacct.c nfacct_mt always returns true
  nfacct: () => () => true,
  mark: (ext) => {
    const o = ext.opts.find((x) => x.name === '--mark')!;
    const m = valueAs(ext.name, o, 'markMask');
    return (p) => xor(o.neg, (p.mark & m.mask) >>> 0 === m.value);
  },
  state: (ext) => {
    const o = ext.opts.find((x) => x.name === '--state')!;
    const set = valueAs(ext.name, o, 'states');
    return (p, env) => xor(o.neg, set.includes(ctStateOf(env, p)));
  },
  conntrack: (ext) => {
    const tests: Test[] = [];
    let state: Test | undefined;
    for (const o of ext.opts) {
      switch (o.name) {
        case '--ctstate': {
          const set = valueAs(ext.name, o, 'ctStates');
          state = (p, env) => {
            const st = ctStateOf(env, p);
            let hit = set.includes(st);
            const e = env.ct?.entry;
            if (!hit && e && set.includes('SNAT') && e.srcNat) hit = true;
            if (!hit && e && set.includes('DNAT') && e.dstNat) hit = true;
            return xor(o.neg, hit);
          };
          tests.push(state);
          break;
        }
        case '--ctorigsrc':
        case '--ctorigdst':
        case '--ctreplsrc':
        case '--ctrepldst': {
          const c = valueAs(ext.name, o, 'cidrShort');
          const side = o.name.includes('orig') ? 'orig' : 'reply';
          const field = o.name.endsWith('src') ? 'src' : 'dst';
          tests.push((_p, env) => env.ct !== undefined && xor(o.neg, inCidr(c, env.ct.entry[side][field])));
          break;
        }
        case '--ctorigsrcport':
        case '--ctorigdstport':
        case '--ctreplsrcport':
        case '--ctrepldstport': {
          const r = valueAs(ext.name, o, 'portRange');
          const side = o.name.includes('orig') ? 'orig' : 'reply';
          const field = o.name.includes('srcport') ? 'sport' : 'dport';
          tests.push((_p, env) => env.ct !== undefined && xor(o.neg, inRange(r, env.ct.entry[side][field])));
          break;
        }
        case '--ctdir': {
          const want = valueAs(ext.name, o, 'ctDir') === 'ORIGINAL' ? 'orig' : 'reply';
          tests.push((_p, env) => env.ct !== undefined && env.ct.dir === want);
          break;
        }
      }
    }
    const whole = all(tests);
    // conntrack_mt (xt_conntrack.c): a packet without a connection (INVALID, UNTRACKED, or in raw before
    // conntrack ran) is judged on --ctstate alone: with it the match is its answer, whatever --ctdir or
    // --ctorig* say; without it, no match (spec/divergences.md, seed 20261304)
    const alone = state;
    return (p, env) => (env.ct === undefined || p.notrack ? (alone?.(p, env) ?? false) : whole(p, env));
  },
  addrtype: (ext) => {
    const tests: Test[] = [];
    const limitIn = hasOpt(ext, '--limit-iface-in');
    const limitOut = hasOpt(ext, '--limit-iface-out');
    const dev = (env: MatchEnv) => (limitIn ? env.inIf : limitOut ? env.outIf : undefined);
    for (const o of ext.opts) {
      if (o.name !== '--src-type' && o.name !== '--dst-type') continue;
      const set = valueAs(ext.name, o, 'addrTypes');
      const field = o.name === '--src-type' ? 'src' : 'dst';
      tests.push((p, env) => xor(o.neg, set.includes(addrType(env.host, p[field], dev(env)))));
    }
    return all(tests);
  },
  statistic: (ext) => {
    const mode = optValue(ext, '--mode', 'statMode');
    if (mode === 'random') {
      const o = ext.opts.find((x) => x.name === '--probability')!;
      const prob = valueAs(ext.name, o, 'probability') / 0x80000000;
      return (_p, env) => xor(o.neg, env.choose(prob, `statistic --probability ${prob.toFixed(5)}`));
    }
    const every = ext.opts.find((x) => x.name === '--every')!;
    const packet = optValue(ext, '--packet', 'uint') ?? 0;
    const everyMinus1 = valueAs(ext.name, every, 'uint') - 1;
    // libxt_statistic.c sets the counter's start to (every-1) - packet; xt_statistic.c advances it, wrapping
    // after every-1, and matches when it wraps to 0. So --packet P matches packets P, P+every, ... counted
    // from 0 (measured on both flavors: --every 2 --packet 0 takes the first connection). Here the count
    // starts at 0 instead: after k packets it is k mod every, and packet k (from 1) matches when that is P+1.
    const hit = (packet + 1) % (everyMinus1 + 1);
    return (_p, env) => {
      const old = env.state.nth.get(env.ruleId) ?? 0;
      const next = old === everyMinus1 ? 0 : old + 1;
      env.state.nth.set(env.ruleId, next);
      return xor(every.neg, next === hit);
    };
  },
  recent: (ext) => {
    const action = ext.opts.find((o) => ['--set', '--rcheck', '--update', '--remove'].includes(o.name))!;
    const name = optValue(ext, '--name', 'rawString')!;
    const mask = optValue(ext, '--mask', 'host')!.addr;
    const useSrc = !hasOpt(ext, '--rdest');
    const seconds = optValue(ext, '--seconds', 'uint');
    const hitcount = optValue(ext, '--hitcount', 'uint');
    const reap = hasOpt(ext, '--reap');
    const rttl = hasOpt(ext, '--rttl');
    return (p, env) => {
      let list = env.state.recent.get(name);
      if (!list) env.state.recent.set(name, (list = new Map()));
      const addr = ((useSrc ? p.src : p.dst) & mask) >>> 0;
      const ttl = ttlBeforeForwarding(p, env);
      // recent_entry_lookup: with --rttl only an entry of the same TTL, or one of TTL 0 (a /proc write)
      let e = list.get(addr);
      if (e && rttl && e.ttl !== 0 && ttl !== 0 && e.ttl !== ttl) e = undefined;
      let ret = action.neg;
      if (action.name === '--set') {
        if (e) e.stamps = [...e.stamps, env.now].slice(-20);
        list.set(addr, { stamps: e ? e.stamps : [env.now], ttl });
        return !ret;
      }
      if (!e) return ret;
      if (action.name === '--remove') {
        list.delete(addr);
        return !ret;
      }
      if (seconds !== undefined || hitcount !== undefined) {
        const since = env.now - (seconds ?? 0);
        let hits = 0;
        for (const s of e.stamps) {
          if (seconds !== undefined && s < since) continue;
          if (!hitcount || ++hits >= hitcount) {
            ret = !ret;
            break;
          }
        }
        if (reap && seconds !== undefined) e.stamps = e.stamps.filter((s) => s >= since);
      } else ret = !ret;
      // an update that matched stamps the entry and stores this packet's TTL (recent_mt)
      if (action.name === '--update' && ret) {
        e.stamps = [...e.stamps, env.now].slice(-20);
        e.ttl = ttl;
      }
      return ret;
    };
  },
  ...MODULE_MATCHERS,
  ...MODULE_MORE_MATCHERS,
};
