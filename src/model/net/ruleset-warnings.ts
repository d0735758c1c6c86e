// What a host's rules name that the topology lacks (spec/semantics.md §1.4): interfaces the host does not
// have (`-i`/`-o`, a `+` wildcard matching none of them) and addresses no host of the topology holds: the
// address of a DNAT, and a single-address `-d` of a filter rule that lets traffic on (ACCEPT, a
// jump or goto; filter sees the translated destination, so that is a real host, such as a container a
// published port leads to). Virtual addresses that rules only translate or refuse (a Service IP) are not
// named. Such a rule never matches in the topology, or a translated packet goes nowhere, so a trace that
// ends in a drop (often far from the rule: "martian source") misleads; trace and check say so first.
// Pure; a warning, never an error.
import { formatIp, type U32 } from '../ip.ts';
import type { Ruleset, Rule } from '../rules/types.ts';
import type { NatRange } from '../rules/kinds.ts';
import type { Network } from './topology.ts';

export interface TopologyWarning {
  kind: 'interface' | 'address';
  host: string;
  /** the interface name (as written, with a `+` wildcard) or the address */
  name: string;
  /** where the first rule naming it was read from */
  at: string;
  /** how many rules name it */
  rules: number;
  message: string;
}

/** Addresses a rule may name without any host holding them: loopback, multicast, broadcast, the unspecified. */
const SPECIAL = (a: U32) => a >>> 24 === 127 || a >>> 28 === 0xe || a === 0xffffffff || a === 0;

function ifaceMatches(pattern: string, names: readonly string[]): boolean {
  if (pattern.endsWith('+')) return names.some((n) => n.startsWith(pattern.slice(0, -1)));
  return names.includes(pattern);
}

function dnatAddrs(rule: Rule): U32[] {
  const t = rule.target;
  // a DNAT destination must be some host's; an SNAT source need not (a floating address, or SNAT in nat
  // INPUT, whose replies never leave the host: suites/seed/C11)
  if (t?.kind !== 'ext' || t.ext.name !== 'DNAT') return [];
  const out: U32[] = [];
  for (const o of t.ext.opts) {
    const v = o.value as NatRange;
    if (o.name === '--to-destination' && typeof v === 'object' && v.minIp !== undefined) out.push(v.minIp);
  }
  return out;
}

/** The warnings for one host's ruleset in a compiled topology, each interface or address once. */
export function rulesetWarnings(net: Network, hostName: string, rs: Ruleset): TopologyWarning[] {
  const host = net.hosts.get(hostName);
  if (!host) return [];
  const names = [...new Set(['lo', ...host.ifaces.keys()])];
  const owned = new Set<U32>();
  for (const h of net.hosts.values()) for (const a of h.local.keys()) owned.add(a);
  const seen = new Map<string, TopologyWarning>();
  const note = (kind: TopologyWarning['kind'], name: string, rule: Rule, why: string) => {
    const key = `${kind}:${name}`;
    const w = seen.get(key);
    if (w) {
      w.rules++;
      return;
    }
    const at = rule.pos ? `${rule.pos.file}:${rule.pos.line}` : 'a rule';
    seen.set(key, { kind, host: hostName, name, at, rules: 1, message: why });
  };
  for (const table of rs.tables.values())
    for (const chain of table.chains.values())
      for (const rule of chain.rules) {
        const passes =
          rule.target?.kind === 'jump' ||
          rule.target?.kind === 'goto' ||
          (rule.target?.kind === 'verdict' && rule.target.verdict === 'ACCEPT');
        for (const i of [rule.inIface, rule.outIface])
          if (i && !ifaceMatches(i.value, names))
            note(
              'interface',
              i.value,
              rule,
              `${hostName}'s rules name interface ${i.value}, which ${hostName} does not have in the` +
                ` topology (${names.join(', ')})`,
            );
        const addrs: { a: U32; what: string }[] = dnatAddrs(rule).map((a) => ({ a, what: 'a DNAT destination' }));
        if (
          table.name === 'filter' &&
          passes &&
          rule.dst &&
          !rule.dst.neg &&
          rule.dst.value.len === 32 &&
          !rule.dst.value.mask
        )
          addrs.push({ a: rule.dst.value.addr, what: 'a destination' });
        for (const { a, what } of addrs)
          if (!SPECIAL(a) && !owned.has(a))
            note(
              'address',
              formatIp(a),
              rule,
              `${hostName}'s rules name ${formatIp(a)} (${what}), which no host of the topology has`,
            );
      }
  return [...seen.values()].map((w) => ({
    ...w,
    message: `${w.message}: ${w.at}${w.rules > 1 ? ` and ${w.rules - 1} more rule${w.rules > 2 ? 's' : ''}` : ''}`,
  }));
}
