// One hook model for iptables (both flavors) and native nft (hook-table.ts, spec/semantics.md §2.4): the
// order of every rule source at a hook, the nat core's lookups, and conntrack's places.
import { describe, test, expect } from 'vitest';
import { hostHooks, type HookEntry, type HostLoad } from '../../src/model/hook-table.ts';
import { KERNEL } from '../../src/model/semantics.ts';
import { parseNft } from '../../src/model/nft/index.ts';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { compileRuleset } from '../../src/model/eval/chains.ts';
import type { IptablesFlavor } from '../../src/model/rules/types.ts';

const xt = (lines: string[], flavor: IptablesFlavor = 'nft'): HostLoad => ({
  kind: 'xt',
  rs: compileRuleset(parseRuleset(lines.join('\n') + '\n', { backend: flavor })),
  flavor,
});
const nft = (text: string): HostLoad => ({ kind: 'nft', rs: parseNft(text) });
const chain = (name: string, type: string, hook: string, prio: string) =>
  `table ip ${name} {\n  chain c { type ${type} hook ${hook} priority ${prio}; policy accept; }\n}\n`;
const label = (e: HookEntry) => (e.kind === 'xt' ? `xt:${e.table}` : e.kind === 'nft' ? `nft:${e.table.name}` : e.kind);

describe('hook order', () => {
  test('priority first, then the later-registered first at equal priority', () => {
    const loads = [
      xt(['iptables -A INPUT -j ACCEPT']),
      nft(
        chain('a', 'filter', 'input', 'filter') +
          chain('b', 'filter', 'input', '-1') +
          chain('c', 'filter', 'input', '0'),
      ),
    ];
    const h = hostHooks(loads, KERNEL.hookOrder, undefined);
    // c was created after a: both before iptables' filter (loaded earlier); b (-1) before all of them
    expect(h.hooks.INPUT.map(label)).toEqual(['nft:b', 'nft:c', 'nft:a', 'xt:filter', 'confirm']);
    const flipped = hostHooks([loads[1]!, loads[0]!], KERNEL.hookOrder, undefined);
    expect(flipped.hooks.INPUT.map(label)).toEqual(['nft:b', 'xt:filter', 'nft:c', 'nft:a', 'confirm']);
  });

  test('conntrack and the nat core sit at their fixed priorities; nat chains are lookups of the core', () => {
    const loads = [
      xt(['iptables -t nat -A PREROUTING -j ACCEPT']),
      nft(
        chain('n', 'nat', 'prerouting', 'dstnat + 50') +
          chain('m', 'nat', 'prerouting', 'dstnat') +
          chain('f', 'filter', 'prerouting', '-80'),
      ),
    ];
    const h = hostHooks(loads, KERNEL.hookOrder, 1);
    expect(h.hooks.PREROUTING.map(label)).toEqual(['ct', 'nat', 'nft:f']);
    // the nft chain at dstnat (loaded later) before iptables' nat table, the one at -50 last
    expect(h.nat.PREROUTING.map((l) => (l.kind === 'xt' ? 'xt' : l.table.name))).toEqual(['m', 'xt', 'n']);
    // the core runs at every nat hook once registered, with or without lookups there
    expect(h.natCore).toBe(true);
    expect(h.hooks.POSTROUTING.map(label)).toEqual(['nat', 'confirm']);
    expect(h.nat.POSTROUTING.map((l) => l.kind)).toEqual(['xt']);
  });

  test("iptables-nft's security table runs after the nat core at INPUT (priority 150), legacy's before it (50)", () => {
    const rules = ['iptables -t nat -A INPUT -j ACCEPT', 'iptables -t security -A INPUT -j ACCEPT'];
    const input = (flavor: IptablesFlavor) =>
      hostHooks([xt(rules, flavor)], KERNEL.hookOrder, 0)
        .hooks.INPUT.map(label)
        .join(' ');
    expect(input('nft')).toBe('nat xt:security confirm');
    expect(input('legacy')).toBe('xt:security nat confirm');
    // both flavors in one namespace: each at its own priority
    const both = hostHooks([xt(rules, 'legacy'), xt(rules, 'nft')], KERNEL.hookOrder, 0);
    expect(both.hooks.INPUT.map(label)).toEqual(['xt:security', 'nat', 'xt:security', 'confirm']);
    // an nft chain at 120 sits between them
    const mid = hostHooks([xt(rules, 'nft'), nft(chain('m', 'filter', 'input', '120'))], KERNEL.hookOrder, 0);
    expect(mid.hooks.INPUT.map(label)).toEqual(['nat', 'nft:m', 'xt:security', 'confirm']);
  });

  test('without nat users there is no nat core', () => {
    const h = hostHooks([nft(chain('f', 'filter', 'output', '0'))], KERNEL.hookOrder, undefined);
    expect(h.natCore).toBe(false);
    expect(h.hooks.OUTPUT.map(label)).toEqual(['ct', 'nft:f']);
  });
});
