// One hook model for every rule source of a namespace (spec/semantics.md §2.4): iptables-legacy tables,
// iptables-nft tables and native nft base chains all register netfilter hooks with a priority; at each
// hook the kernel runs them by priority, and at equal priority the later-registered first
// (net/netfilter/core.c nf_hook_entries_grow inserts a new hook before the first existing one whose
// priority is not lower). Conntrack (-200, and its confirmation at INT_MAX) registers when a rule first
// needs it. NAT is one hook of the nat core at -100 (prerouting, output) or 100 (input, postrouting),
// registered with the first nat table or nat chain; every nat table and nat base chain is a lookup
// function in the nat core's own list, ordered the same way, which nf_nat_inet_fn walks until one sets
// up a binding (net/netfilter/nf_nat_core.c nf_nat_register_fn, nf_nat_inet_fn). So an nft nat chain's
// priority orders it among the nat lookups only; its rewrite happens at the nat core's place.
import type { Hook, IptablesFlavor, TableName } from './rules/types.ts';
import type { CompiledRuleset } from './eval/chains.ts';
import type { HookStep } from './semantics.ts';
import type { NftChain, NftHook, NftRuleset, NftTable } from './nft/types.ts';

/** What a host loaded, in load order: an iptables ruleset (either flavor) or an nft ruleset. */
export type HostLoad = { kind: 'xt'; rs: CompiledRuleset; flavor: IptablesFlavor } | { kind: 'nft'; rs: NftRuleset };

/** A rule source registered at one hook. */
export type HookEntry =
  | { kind: 'ct' }
  | { kind: 'confirm' }
  /** the nat core: the nat lookups of `HostHooks.nat` for a new connection, then the rewrite */
  | { kind: 'nat' }
  | { kind: 'xt'; table: TableName; rs: CompiledRuleset }
  | { kind: 'nft'; table: NftTable; chain: NftChain };

/** A nat lookup function of the nat core's list. */
export type NatLookup = { kind: 'xt'; rs: CompiledRuleset } | { kind: 'nft'; table: NftTable; chain: NftChain };

export interface HostHooks {
  /** each hook's entries in the order the kernel runs them */
  hooks: Record<Hook, HookEntry[]>;
  /** each hook's nat lookups in the nat core's order */
  nat: Record<Hook, NatLookup[]>;
  /** the nat core is registered (at all its hooks, once any nat table or nat chain exists) */
  natCore: boolean;
}

const INT_MAX = 2 ** 31 - 1;

/** include/uapi/linux/netfilter_ipv4.h nf_ip_hook_priorities */
export function stepPriority(step: HookStep, hook: Hook): number {
  switch (step) {
    case 'raw':
      return -300;
    case 'ct':
      return -200;
    case 'mangle':
      return -150;
    case 'nat':
      return hook === 'PREROUTING' || hook === 'OUTPUT' ? -100 : 100;
    case 'filter':
      return 0;
    case 'security':
      return 50; // iptables-legacy's; iptables-nft registers its security chains at 150 (NFT_SECURITY_PRIORITY)
    case 'confirm':
      return INT_MAX;
  }
}

export const NFT_HOOK: Record<NftHook, Hook> = {
  prerouting: 'PREROUTING',
  input: 'INPUT',
  forward: 'FORWARD',
  output: 'OUTPUT',
  postrouting: 'POSTROUTING',
};

const HOOKS: readonly Hook[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

/** A registration: its priority and when it was registered (a later one runs first at equal priority). */
interface Reg<T> {
  prio: number;
  seq: number;
  entry: T;
}
const before = (a: Reg<unknown>, b: Reg<unknown>) => a.prio < b.prio || (a.prio === b.prio && a.seq > b.seq);
const byKernelOrder = <T>(xs: Reg<T>[]) => [...xs].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));

/** One load's registrations are numbered within a block of SEQ_BLOCK, in the order the kernel makes them. */
const SEQ_BLOCK = 100_000;

/**
 * The hooks of one host. `order` gives the iptables tables' and conntrack's places at each hook (the
 * semantics' hookOrder: the kernel's priorities, or a mutant's misreading); nft base chains are merged in
 * by priority and registration. `ctLoad`: the index of the load whose rules first needed conntrack.
 */
export function hostHooks(
  loads: readonly HostLoad[],
  order: Readonly<Record<Hook, readonly HookStep[]>>,
  ctLoad: number | undefined,
): HostHooks {
  const xtAt = new Map<TableName, Reg<CompiledRuleset>[]>();
  // iptables-nft 1.8.9 registers the security table's base chains at priority 150, not NF_IP_PRI_SECURITY (50):
  // at INPUT they run after the nat core's SNAT (100), where legacy's run before it (measured: `nft list
  // ruleset` after iptables-nft-restore lists `type filter hook input priority 150`)
  const nftSecurity: Reg<CompiledRuleset>[] = [];
  const nftAt = new Map<Hook, Reg<{ table: NftTable; chain: NftChain }>[]>();
  const natAt = new Map<Hook, Reg<NatLookup>[]>();
  let natCoreSeq: number | undefined;
  const natHook = (h: Hook, r: Reg<NatLookup>) => {
    natAt.set(h, [...(natAt.get(h) ?? []), r]);
    natCoreSeq ??= r.seq + 0.5;
  };
  loads.forEach((load, i) => {
    const seq0 = i * SEQ_BLOCK;
    if (load.kind === 'xt') {
      // a table registers all its hooks at once when it is created (legacy: xt_register_table; nft:
      // iptables-nft's base chains, in one transaction)
      // (a missing builtin chain accepts: eval/chains.ts traverse)
      for (const name of load.rs.keys()) {
        if (name === 'security' && load.flavor === 'nft') nftSecurity.push({ prio: 150, seq: seq0, entry: load.rs });
        else xtAt.set(name, [...(xtAt.get(name) ?? []), { prio: 0, seq: seq0, entry: load.rs }]);
        if (name === 'nat')
          for (const h of HOOKS)
            if (h !== 'FORWARD')
              natHook(h, { prio: stepPriority('nat', h), seq: seq0, entry: { kind: 'xt', rs: load.rs } });
      }
      return;
    }
    // nft: base chains register in the order the transaction creates them (tables, then their chains)
    let k = 0;
    for (const table of load.rs.tables.values())
      for (const chain of table.chains.values()) {
        if (!chain.base) continue;
        const h = NFT_HOOK[chain.base.hook];
        const reg = { prio: chain.base.priority, seq: seq0 + 2 * ++k };
        if (chain.base.type === 'nat') natHook(h, { ...reg, entry: { kind: 'nft', table, chain } });
        else nftAt.set(h, [...(nftAt.get(h) ?? []), { ...reg, entry: { table, chain } }]);
      }
  });
  const ctSeq = ctLoad === undefined ? 0 : ctLoad * SEQ_BLOCK + SEQ_BLOCK - 1;
  const hooks = {} as Record<Hook, HookEntry[]>;
  const nat = {} as Record<Hook, NatLookup[]>;
  for (const h of HOOKS) {
    const lookups = byKernelOrder(natAt.get(h) ?? []);
    nat[h] = lookups.map((r) => r.entry);
    // the iptables tables and conntrack steps in the semantics' order, each table once per load
    const xt: Reg<HookEntry>[] = [];
    for (const step of order[h]) {
      const prio = stepPriority(step, h);
      if (step === 'ct' || step === 'confirm') xt.push({ prio, seq: ctSeq, entry: { kind: step } });
      else if (step === 'nat') {
        if (natCoreSeq !== undefined) xt.push({ prio, seq: natCoreSeq, entry: { kind: 'nat' } });
      } else
        for (const r of byKernelOrder(xtAt.get(step) ?? []))
          xt.push({ prio, seq: r.seq, entry: { kind: 'xt', table: step, rs: r.entry } });
    }
    const nft = byKernelOrder<HookEntry>([
      ...(nftAt.get(h) ?? []).map((r) => ({ ...r, entry: { kind: 'nft', ...r.entry } as HookEntry })),
      ...(order[h].includes('security') ? nftSecurity : []).map((r) => ({
        ...r,
        entry: { kind: 'xt', table: 'security', rs: r.entry } as HookEntry,
      })),
    ]);
    hooks[h] = merge(xt, nft);
  }
  return { hooks, nat, natCore: natCoreSeq !== undefined };
}

/** Merges the nft chains (sorted) into the semantics' sequence, each before the first entry it precedes. */
function merge(xt: Reg<HookEntry>[], nft: Reg<HookEntry>[]): HookEntry[] {
  const out: HookEntry[] = [];
  let j = 0;
  for (const x of xt) {
    while (j < nft.length && before(nft[j]!, x)) out.push(nft[j++]!.entry);
    out.push(x.entry);
  }
  while (j < nft.length) out.push(nft[j++]!.entry);
  return out;
}
