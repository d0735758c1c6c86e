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
  compiled: Map<string, CompiledRuleset>;
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

export function makeLab(net: Network, rulesets: Map<string, Ruleset>): ModelLab {
  for (const h of rulesets.keys()) if (!net.hosts.has(h)) throw new Error(`ruleset given for unknown host "${h}"`);
  const compiled = new Map<string, CompiledRuleset>();
  const ctEnabled = new Set<string>();
  for (const [h, rs] of rulesets) {
    compiled.set(h, compileRuleset(rs));
    if (needsConntrack(rs)) ctEnabled.add(h);
  }
  return { net, rulesets, compiled, ctEnabled };
}

export function newWorld(lab: ModelLab): World {
  return { hosts: new Map([...lab.net.hosts.keys()].map((h) => [h, newHostState()])), now: 0, nextPort: 40000 };
}

export function cloneWorld(w: World): World {
  return { hosts: new Map([...w.hosts].map(([h, s]) => [h, cloneHostState(s)])), now: w.now, nextPort: w.nextPort };
}
