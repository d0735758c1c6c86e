// A modelled lab: the network, each host's compiled ruleset, and the mutable world state.
import type { Network } from './net/topology.ts';
import type { Ruleset } from './rules/types.ts';
import { compileRuleset, type CompiledRuleset } from './eval/chains.ts';
import { type HostState, newHostState, cloneHostState } from './eval/packet.ts';

/**
 * Bugs that can be planted in a copy of the model, to show that the differential
 * engine finds and shrinks divergences (never set in normal use).
 */
export type Mutation = 'masquerade-first-address';

export interface ModelLab {
  mutation?: Mutation;
  net: Network;
  rulesets: Map<string, Ruleset>;
  /** rulesets loaded with the host's other iptables backend, after `rulesets` (spec/semantics.md §2.3) */
  second: Map<string, Ruleset>;
  /** each host's compiled rulesets in evaluation order: at equal priority the later-registered runs first */
  layers: Map<string, CompiledRuleset[]>;
  /** hosts where connection tracking is active (spec/semantics.md §4.1) */
  ctEnabled: Set<string>;
}

export interface World {
  hosts: Map<string, HostState>;
  /** model clock, seconds */
  now: number;
  /** next ephemeral source port for probes that do not choose one */
  nextPort: number;
}

const CT_MATCHES = new Set(['conntrack', 'state']);
// NOTRACK and CT --notrack do not take a conntrack reference (xt_CT.c: notrack_chk, xt_ct_tg_check)
const CT_TARGETS = new Set(['CONNMARK', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT']);

/**
 * Conntrack runs in a namespace only once a rule needs it: the NAT targets, the
 * conntrack and state matches and CONNMARK call nf_ct_netns_get when they are
 * loaded. An empty nat table does not (measured: suites/seed/C18), nor do
 * NOTRACK and CT --notrack (found by fuzzing).
 */
export function needsConntrack(rs: Ruleset | undefined): boolean {
  if (!rs) return false;
  for (const t of rs.tables.values()) {
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        if (r.matches.some((m) => CT_MATCHES.has(m.name))) return true;
        if (r.target?.kind === 'ext' && CT_TARGETS.has(r.target.ext.name)) return true;
      }
    }
  }
  return false;
}

/**
 * `second` holds rulesets loaded with the other iptables backend after the first
 * (iptables-legacy and iptables-nft at once in one namespace). Both are evaluated:
 * nf_hook_entries_grow inserts a new hook before the existing ones of equal
 * priority, so the later-loaded backend's chains run first (spec/semantics.md §2.3).
 */
export function makeLab(
  net: Network,
  rulesets: Map<string, Ruleset>,
  second: Map<string, Ruleset> = new Map(),
): ModelLab {
  for (const h of [...rulesets.keys(), ...second.keys()])
    if (!net.hosts.has(h)) throw new Error(`ruleset given for unknown host "${h}"`);
  const layers = new Map<string, CompiledRuleset[]>();
  const ctEnabled = new Set<string>();
  for (const h of new Set([...rulesets.keys(), ...second.keys()])) {
    const inOrder = [second.get(h), rulesets.get(h)].filter((x): x is Ruleset => x !== undefined);
    layers.set(h, inOrder.map(compileRuleset));
    if (inOrder.some(needsConntrack)) ctEnabled.add(h);
  }
  return { net, rulesets, second, layers, ctEnabled };
}

export function newWorld(lab: ModelLab): World {
  return { hosts: new Map([...lab.net.hosts.keys()].map((h) => [h, newHostState()])), now: 0, nextPort: 40000 };
}

export function cloneWorld(w: World): World {
  return { hosts: new Map([...w.hosts].map(([h, s]) => [h, cloneHostState(s)])), now: w.now, nextPort: w.nextPort };
}
