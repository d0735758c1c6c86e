// A modelled lab: the network, each host's compiled ruleset, the semantics in force, and the
// mutable world state.
import type { Network } from './net/topology.ts';
import type { Ruleset } from './rules/types.ts';
import { compileRuleset, type CompiledRuleset } from './eval/chains.ts';
import { type HostState, newHostState, cloneHostState } from './eval/packet.ts';
import { KERNEL, type Semantics } from './semantics.ts';
import type { Host } from './net/topology.ts';
import { InputError } from './errors.ts';

/** libxt_set/xt_set.c: a rule naming a set the host lacks does not load ("Set X doesn't exist."). */
function checkSetsExist(host: Host, rs: Ruleset): void {
  for (const t of rs.tables.values())
    for (const c of t.chains.values())
      for (const r of c.rules)
        for (const m of r.matches) {
          if (m.name !== 'set') continue;
          const ref = m.opts.find((o) => o.name === '--match-set')?.value as { name: string } | undefined;
          if (ref && !host.ipsets.has(ref.name))
            throw new InputError(
              'invalid',
              `Set ${ref.name} doesn't exist on host ${host.name} (give it in the host's "ipsets")`,
              r.pos ?? { file: host.name, line: 1, col: 1 },
            );
        }
}

export interface ModelLab {
  net: Network;
  rulesets: Map<string, Ruleset>;
  /** rulesets loaded with the host's other iptables backend, after `rulesets` (spec/semantics.md §2.3) */
  second: Map<string, Ruleset>;
  /** each host's compiled rulesets in evaluation order: at equal priority the later-registered runs first */
  layers: Map<string, CompiledRuleset[]>;
  /** hosts where connection tracking is active (spec/semantics.md §4.1) */
  ctEnabled: Set<string>;
  /** netfilter's semantics: the kernel's, or a model mutant's (semantics.ts) */
  semantics: Semantics;
}

export interface World {
  hosts: Map<string, HostState>;
  /** model clock, seconds */
  now: number;
  /** next ephemeral source port for probes that do not choose one */
  nextPort: number;
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
  semantics: Semantics = KERNEL,
): ModelLab {
  for (const h of [...rulesets.keys(), ...second.keys()])
    if (!net.hosts.has(h)) throw new Error(`ruleset given for unknown host "${h}"`);
  for (const [h, rs] of [...rulesets, ...second]) checkSetsExist(net.hosts.get(h)!, rs);
  const layers = new Map<string, CompiledRuleset[]>();
  const ctEnabled = new Set<string>();
  for (const h of new Set([...rulesets.keys(), ...second.keys()])) {
    const inOrder = [second.get(h), rulesets.get(h)]
      .filter((x): x is Ruleset => x !== undefined)
      .map((rs) => semantics.load(rs));
    layers.set(h, inOrder.map(compileRuleset));
    if (inOrder.some((rs) => semantics.needsConntrack(rs))) ctEnabled.add(h);
  }
  return { net, rulesets, second, layers, ctEnabled, semantics };
}

export function newWorld(lab: ModelLab): World {
  return { hosts: new Map([...lab.net.hosts.keys()].map((h) => [h, newHostState()])), now: 0, nextPort: 40000 };
}

export function cloneWorld(w: World): World {
  return { hosts: new Map([...w.hosts].map(([h, s]) => [h, cloneHostState(s)])), now: w.now, nextPort: w.nextPort };
}
