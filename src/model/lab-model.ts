// A modelled lab: the network, each host's compiled ruleset, the semantics in force, and the
// mutable world state.
import type { Network } from './net/topology.ts';
import type { IptablesFlavor, Ruleset } from './rules/types.ts';
import { compileRuleset } from './eval/chains.ts';
import { type HostState, newHostState, cloneHostState } from './eval/packet.ts';
import { KERNEL, type Semantics } from './semantics.ts';
import type { Host } from './net/topology.ts';
import { InputError } from './errors.ts';
import type { SynAckRtx } from './synack-rtx.ts';
import type { UnknownRule } from './observation.ts';

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
import type { NftRuleset } from './nft/types.ts';
import { nftNeedsConntrack } from './nft/in-path.ts';
import { hostHooks, type HostHooks, type HostLoad } from './hook-table.ts';

/** A host's rule sources, named as a case file names them (spec/case-file.md). */
export type LoadKind = 'ruleset' | 'otherBackendRuleset' | 'nft';
export const LOAD_KINDS: readonly LoadKind[] = ['ruleset', 'otherBackendRuleset', 'nft'];

export interface ModelLab {
  net: Network;
  rulesets: Map<string, Ruleset>;
  /** rulesets loaded with the host's other iptables backend, after `rulesets` (spec/semantics.md §2.3) */
  second: Map<string, Ruleset>;
  /** native nft rulesets (spec/nft.md) */
  nft: Map<string, NftRuleset>;
  /** the order each host loaded its rule sources in (default LOAD_KINDS' order) */
  order: Map<string, readonly LoadKind[]>;
  /** each host's hooks: every rule source in the kernel's order (hook-table.ts, spec/semantics.md §2.4) */
  hooks: Map<string, HostHooks>;
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
  /** probes played so far (the kernel's clock runs during each: nft/dyn-state.ts) */
  probes?: number;
  /** listeners' request sockets still resending a SYN-ACK the client never took (synack-rtx.ts) */
  synAcks?: readonly SynAckRtx[];
  /** packets an earlier probe left waiting in a neighbour entry may have gone out, and the model did not follow
   *  them: every result from then on is open (path.ts releaseQueue, spec/semantics.md §6.5) */
  unfollowed?: UnknownRule;
}

/** Native nft rulesets and the load order, beside the iptables rulesets. */
export interface LabRules {
  nft?: Map<string, NftRuleset>;
  order?: Map<string, readonly LoadKind[]>;
}

/**
 * `second` holds rulesets loaded with the other iptables backend after the first
 * (iptables-legacy and iptables-nft at once in one namespace), `rules.nft` native nft rulesets; a host
 * loads them in `rules.order` (default: ruleset, other backend, nft). All are evaluated: at each hook
 * by priority, the later-registered first at equal priority (hook-table.ts, spec/semantics.md §2.3-§2.4).
 */
export function makeLab(
  net: Network,
  rulesets: Map<string, Ruleset>,
  second: Map<string, Ruleset> = new Map(),
  semantics: Semantics = KERNEL,
  rules: LabRules = {},
): ModelLab {
  const nft = rules.nft ?? new Map<string, NftRuleset>();
  const order = rules.order ?? new Map<string, readonly LoadKind[]>();
  for (const h of [...rulesets.keys(), ...second.keys(), ...nft.keys()])
    if (!net.hosts.has(h)) throw new Error(`ruleset given for unknown host "${h}"`);
  for (const [h, rs] of [...rulesets, ...second]) checkSetsExist(net.hosts.get(h)!, rs);
  const hooks = new Map<string, HostHooks>();
  const ctEnabled = new Set<string>();
  for (const h of net.hosts.keys()) {
    const loads: HostLoad[] = [];
    let ctLoad: number | undefined;
    for (const kind of order.get(h) ?? LOAD_KINDS) {
      let needsCt = false;
      if (kind === 'nft') {
        const rs = nft.get(h);
        if (!rs) continue;
        loads.push({ kind: 'nft', rs });
        needsCt = nftNeedsConntrack(rs);
      } else {
        const rs0 = (kind === 'ruleset' ? rulesets : second).get(h);
        if (!rs0) continue;
        const rs = semantics.load(rs0);
        const flavor = net.hosts.get(h)!.backend;
        loads.push({ kind: 'xt', rs: compileRuleset(rs), flavor: kind === 'ruleset' ? flavor : otherFlavor(flavor) });
        needsCt = semantics.needsConntrack(rs);
      }
      if (needsCt) ctLoad ??= loads.length - 1;
    }
    hooks.set(h, hostHooks(loads, semantics.hookOrder, ctLoad));
    if (ctLoad !== undefined) ctEnabled.add(h);
  }
  return { net, rulesets, second, nft, order, hooks, ctEnabled, semantics };
}

const otherFlavor = (f: IptablesFlavor): IptablesFlavor => (f === 'nft' ? 'legacy' : 'nft');

export function newWorld(lab: ModelLab): World {
  return { hosts: new Map([...lab.net.hosts.keys()].map((h) => [h, newHostState()])), now: 0, nextPort: 40000 };
}

export function cloneWorld(w: World): World {
  const c: World = {
    hosts: new Map([...w.hosts].map(([h, s]) => [h, cloneHostState(s)])),
    now: w.now,
    nextPort: w.nextPort,
  };
  if (w.probes !== undefined) c.probes = w.probes;
  if (w.synAcks?.length) c.synAcks = w.synAcks;
  if (w.unfollowed) c.unfollowed = w.unfollowed;
  return c;
}
