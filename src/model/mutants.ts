// Model mutants: deliberately wrong readings of netfilter, each a copy of the kernel's semantics
// (semantics.ts) with one decision replaced, injected through makeLab (never a branch in the path).
// They measure whether a campaign notices a wrong model (`npm run mutants -- --model`) and plant a
// bug for the engine's own tests (test/unit/fuzz-planted.test.ts).
import { selectSource } from './net/routing.ts';
import { isLoopback } from './ip.ts';
import type { Ruleset, Rule, Chain, Hook } from './rules/types.ts';
import { valueAs } from './eval/options.ts';
import { KERNEL, type Semantics, type HookStep } from './semantics.ts';
import { isIcmpError } from './tracking.ts';
import { manipOf } from './nat.ts';

export interface ModelMutant {
  /** the misreading, in one sentence */
  description: string;
  semantics: Semantics;
}

/** The kernel's hook order with one hook's steps replaced. */
const order = (hook: Hook, steps: readonly HookStep[]) => ({ ...KERNEL.hookOrder, [hook]: steps });

/** A ruleset with each rule (or chain) rewritten, for mutants that misread what a rule says. */
function rewrite(rs: Ruleset, rule: (r: Rule, c: Chain, table: string) => Rule, extra?: (c: Chain) => Rule[]): Ruleset {
  const tables = new Map();
  for (const [name, t] of rs.tables) {
    const chains = new Map<string, Chain>();
    for (const [cn, c] of t.chains)
      chains.set(cn, { ...c, rules: [...c.rules.map((r) => rule(r, c, name)), ...(extra?.(c) ?? [])] });
    tables.set(name, { ...t, chains });
  }
  return { ...rs, tables };
}

const MUTANTS = {
  'masquerade-first-address': {
    description: 'MASQUERADE takes the address of eth0 instead of the outgoing interface',
    semantics: { ...KERNEL, masqueradeSource: (h, _outIf, nextHop) => selectSource(h, 'eth0', nextHop) },
  },
  'filter-input-after-snat': {
    description: 'nat INPUT (SNAT) runs before filter INPUT, so filter sees the translated source',
    semantics: { ...KERNEL, hookOrder: order('INPUT', ['mangle', 'nat', 'filter', 'security', 'confirm']) },
  },
  'mangle-prerouting-after-dnat': {
    description: 'mangle PREROUTING runs after the DNAT, so it sees the translated destination',
    semantics: { ...KERNEL, hookOrder: order('PREROUTING', ['raw', 'ct', 'nat', 'mangle']) },
  },
  'raw-after-conntrack': {
    description: 'raw PREROUTING runs after conntrack, so NOTRACK there comes too late',
    semantics: { ...KERNEL, hookOrder: order('PREROUTING', ['ct', 'raw', 'mangle', 'nat']) },
  },
  'no-nat-output': {
    description: 'locally generated packets are not DNATed (nat OUTPUT is not consulted)',
    semantics: { ...KERNEL, hookOrder: order('OUTPUT', ['raw', 'ct', 'mangle', 'filter', 'security']) },
  },
  'filter-output-before-dnat': {
    description: 'filter OUTPUT runs before nat OUTPUT, so it sees the Service address, not the endpoint',
    semantics: { ...KERNEL, hookOrder: order('OUTPUT', ['raw', 'ct', 'mangle', 'filter', 'security', 'nat']) },
  },
  'any-rule-enables-conntrack': {
    description: 'any loaded rule switches conntrack on, not only rules that need it',
    semantics: {
      ...KERNEL,
      needsConntrack: (rs) =>
        [...rs.tables.values()].some((t) => [...t.chains.values()].some((c) => c.rules.length > 0)),
    },
  },
  'reply-confirms': {
    description: 'any packet of a new connection confirms it, also a REJECT answer in the reply direction',
    semantics: { ...KERNEL, confirmedBy: () => true },
  },
  'rst-keeps-entry': {
    description: 'a TCP connection whose first reply is a RST stays in the table',
    semantics: { ...KERNEL, rstOnlyReplyDeletes: false },
  },
  'icmp-errors-invalid': {
    description: 'ICMP errors are never RELATED to a connection (they are INVALID)',
    semantics: {
      ...KERNEL,
      conntrackIn: (cx, p) => (isIcmpError(p) ? undefined : KERNEL.conntrackIn(cx, p)),
    },
  },
  'related-not-translated': {
    description: 'RELATED packets (ICMP errors, resets) of a NATed connection are not translated back',
    semantics: {
      ...KERNEL,
      natManip: (cx, hook, p, ct) => (ct.state === 'RELATED' ? undefined : KERNEL.natManip(cx, hook, p, ct)),
    },
  },
  'reject-answer-unattached': {
    description: "a REJECT's answer is not attached to the rejected connection, so NAT does not translate it",
    semantics: { ...KERNEL, answerFor: (h, o, w) => KERNEL.answerFor(h, o, w, undefined) },
  },
  'snat-in-input-ignored': {
    description: 'SNAT in nat INPUT is accepted but does nothing (source NAT only in POSTROUTING)',
    semantics: {
      ...KERNEL,
      natSetup: (cx, e, mtype, req, site) =>
        KERNEL.natSetup(cx, e, mtype, site.hook === 'INPUT' ? undefined : req, site),
    },
  },
  'random-ignored': {
    description: '--random and --random-fully are ignored: the port (or ICMP id) is kept when free',
    semantics: {
      ...KERNEL,
      natSetup: (cx, e, mtype, req, site) =>
        KERNEL.natSetup(cx, e, mtype, req && { ...req, random: false, randomFully: false }, site),
    },
  },
  'reply-not-un-dnatted': {
    description: "replies of a DNATed connection keep the endpoint's address (the reverse translation is forgotten)",
    semantics: {
      ...KERNEL,
      natManip: (cx, hook, p, ct) =>
        ct.dir === 'reply' && manipOf(hook) === 'src' && !ct.entry.srcNat
          ? undefined
          : KERNEL.natManip(cx, hook, p, ct),
    },
  },
  'mark-crosses-namespaces': {
    description: 'the packet mark survives a veth into another namespace',
    semantics: { ...KERNEL, scrubsMark: false },
  },
  'hairpin-ignored': {
    description: "a bridge sends a frame back out of the port it came from whatever the port's hairpin mode",
    semantics: { ...KERNEL, hairpinAllowed: () => true },
  },
  'bridged-skip-forward': {
    description: 'br_netfilter hands bridged frames to PREROUTING and POSTROUTING only, not to FORWARD',
    semantics: { ...KERNEL, bridgedForward: false },
  },
  'bridge-needs-ip-forward': {
    description: 'bridging between pods needs ip_forward=1, as routing does',
    semantics: { ...KERNEL, bridges: (h) => h.sysctls.ip_forward },
  },
  'route-localnet-ignored': {
    description: 'a 127/8 destination arriving from outside is routed even with route_localnet=0',
    semantics: {
      ...KERNEL,
      martian: (h, inIf, src, dst) =>
        isLoopback(dst) && !isLoopback(src) ? undefined : KERNEL.martian(h, inIf, src, dst),
    },
  },
  'goto-is-jump': {
    description: '-g (goto) returns to the calling chain like -j (jump)',
    semantics: {
      ...KERNEL,
      load: (rs) =>
        rewrite(rs, (r) => (r.target?.kind === 'goto' ? { ...r, target: { kind: 'jump', chain: r.target.chain } } : r)),
    },
  },
  'user-chain-end-accepts': {
    description: 'falling off the end of a user chain accepts the packet instead of returning',
    semantics: {
      ...KERNEL,
      load: (rs) =>
        rewrite(
          rs,
          (r) => r,
          (c) => (c.policy === undefined ? [{ matches: [], target: { kind: 'verdict', verdict: 'ACCEPT' } }] : []),
        ),
    },
  },
  'nth-counts-from-one': {
    description: 'statistic --mode nth matches the first packet of each cycle (--packet counted from 1)',
    semantics: {
      ...KERNEL,
      load: (rs) =>
        rewrite(rs, (r) => ({
          ...r,
          matches: r.matches.map((m) => {
            if (m.name !== 'statistic' || !m.opts.some((o) => o.name === '--every')) return m;
            const every = valueAs(
              m.name,
              m.opts.find((o) => o.name === '--every')!,
              'uint',
            );
            const p = m.opts.find((o) => o.name === '--packet');
            const packet = p ? valueAs(m.name, p, 'uint') : 0;
            return {
              ...m,
              opts: [
                ...m.opts.filter((o) => o.name !== '--packet'),
                { name: '--packet', neg: false, value: (packet + every - 1) % every },
              ],
            };
          }),
        })),
    },
  },
  'forward-without-ip-forward': {
    description: 'packets are routed through the host even with ip_forward=0',
    semantics: { ...KERNEL, forwards: () => true },
  },
} satisfies Record<string, ModelMutant>;

export type Mutation = keyof typeof MUTANTS;
export const MUTATIONS = Object.keys(MUTANTS) as Mutation[];

export function modelMutant(name: Mutation): ModelMutant {
  return MUTANTS[name];
}
