// Reach (issue 14 §1 and §4): what independent random rules and probes almost never produce, drawn on purpose.
// - A small palette per case (a Service address, two endpoints, a port, a protocol) shared by the rules and
//   the probes, so that NAT, filters, marks, jumps and probes meet: a DNAT's endpoint is what a filter
//   matches on and what a probe goes to.
// - Recipes for the packet path's decisions: DNAT (with statistic in both modes, --random), SNAT/MASQUERADE,
//   filters in any table and hook (conntrack states, NOTRACK, REJECT), jumps and gotos into user chains
//   with rules after them, a mark set on one host and tested on another, DROP policies.
// - Probes aimed at the palette, repeated (statistic --mode nth is judged on each repetition: the sequence), also
//   sent from the node itself (nat and filter OUTPUT) and from the endpoint to its own Service (hairpin).
// - Steps between probes: -D, -R, -I n on the current rules (typed iptables steps), conntrack -F/-D, and
//   restores that fail part-way (a valid table and an invalid one, in either order), each followed by the
//   probe before it again, so that the verdict and the conntrack table after the change are observed.
// Everything here is a plain record (no chain), so that fast-check shrinks it towards nothing.
import fc from 'fast-check';
import {
  K8S_NODE,
  TABLE_HOOKS,
  type IptablesFlavor,
  type NodeFacts,
  type Probe,
  type TableName,
} from '../model/index.ts';
import type { ProbeStep, Step } from './case-file.ts';
import { LAB_HOSTS, VIRTUAL_IPS } from './probe-arbitraries.ts';
import { acceptedAlone, chainOf, ruleText, rulesetFrom, type RuleDraw } from './fuzz-arbitraries.ts';

// the palette's pools, from the preset's facts (one source: model/net/preset-facts.ts)
const [NODE, NODE2] = K8S_NODE.nodes as [NodeFacts, NodeFacts];
const CLIENT = K8S_NODE.others[0]!.ip;
const POD_ENDPOINTS = K8S_NODE.pods.map((x) => x.ip);
/** a Service's address: a virtual IP, or one of the node's own (a NodePort) */
const SERVICE_ADDRS = [VIRTUAL_IPS[2]!, VIRTUAL_IPS[1]!, ...NODE.addresses.slice(0, 2)];
const ENDPOINTS = [...POD_ENDPOINTS, NODE.addresses[0]!, CLIENT, '127.0.0.1', NODE2.addresses[0]!];
/** the lab host that holds each endpoint address */
const OWNER: Record<string, string> = { ...K8S_NODE.hostOf, '127.0.0.1': NODE.name };
const SERVICE_PORTS = [80, 8080, 9090, 30080] as const;
/** 7777: nothing listens there (a port unreachable or a reset along the NAT) */
const TARGET_PORTS = [0, 8080, 9090, 7777] as const;
const REJECT_WITH = [
  'icmp-port-unreachable',
  'icmp-host-unreachable',
  'icmp-net-unreachable',
  'icmp-admin-prohibited',
  'tcp-reset',
] as const;
const CT_STATES = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED', 'DNAT', 'SNAT'] as const;

type Proto = 'tcp' | 'udp' | 'icmp';
export interface Palette {
  vip: string;
  ep: string;
  ep2: string;
  port: (typeof SERVICE_PORTS)[number];
  tport: (typeof TARGET_PORTS)[number];
  proto: Proto;
}

/** An address by its role in the palette. */
type Addr = 'vip' | 'ep' | 'ep2' | 'client' | 'pods';
type Verdict = 'DROP' | 'ACCEPT' | 'REJECT' | 'RETURN' | 'NOTRACK';

export type Recipe =
  | {
      r: 'dnat';
      /** kube-proxy jumps to its Services from nat PREROUTING and nat OUTPUT both (pkg/proxy/iptables) */
      hooks: 'PREROUTING' | 'OUTPUT' | 'both';
      to: 'ep' | 'ep2';
      port: boolean;
      random: boolean;
      stat: 'none' | 'nth' | 'random';
    }
  | { r: 'snat'; chain: 'POSTROUTING' | 'INPUT'; masq: boolean; random: boolean; src: Addr | 'any'; to: 'ep' | 'vip' }
  | {
      r: 'filter';
      host: 'node' | 'node2';
      table: 'filter' | 'mangle' | 'raw' | 'security' | 'nat';
      chain: number;
      src: Addr | 'any';
      dst: Addr | 'any';
      proto: boolean;
      state: (typeof CT_STATES)[number] | 'any';
      nth: boolean;
      verdict: Verdict;
      rejectWith: number;
    }
  | {
      r: 'jump';
      table: 'filter' | 'mangle' | 'nat';
      chain: number;
      goto: boolean;
      inner: Addr | 'none';
      innerVerdict: Verdict;
      after: Verdict;
    }
  | {
      r: 'mark';
      setChain: number;
      on: Addr | 'any';
      host: 'node' | 'node2';
      testTable: 'filter' | 'mangle';
      testChain: number;
      verdict: Verdict;
    }
  | { r: 'policy'; chain: 'INPUT' | 'FORWARD' | 'OUTPUT' }
  /** a NAT and a rule in another table or hook that matches the address before or after it */
  | {
      r: 'natpair';
      snat: boolean;
      natChain: number;
      table: 'filter' | 'mangle' | 'raw' | 'security';
      chain: number;
      /** in the NAT's own hook (mangle where the table has no such chain): the tables' order there decides */
      sameHook: boolean;
      after: boolean;
      verdict: Verdict;
    };

const addrArb = fc.constantFrom<Addr>('vip', 'ep', 'ep2', 'client', 'pods');
const anyAddrArb = fc.constantFrom<Addr | 'any'>('any', 'vip', 'ep', 'ep2', 'client', 'pods');
const verdictArb = fc.constantFrom<Verdict>('DROP', 'ACCEPT', 'REJECT', 'RETURN', 'NOTRACK', 'DROP', 'REJECT');

export const recipeArb: fc.Arbitrary<Recipe> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      r: fc.constant('dnat' as const),
      hooks: fc.constantFrom('PREROUTING' as const, 'OUTPUT' as const, 'both' as const),
      to: fc.constantFrom('ep' as const, 'ep2' as const),
      port: fc.boolean(),
      random: fc.constantFrom(false, false, false, true),
      stat: fc.constantFrom('none' as const, 'nth' as const, 'random' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      r: fc.constant('snat' as const),
      chain: fc.constantFrom('POSTROUTING' as const, 'INPUT' as const),
      masq: fc.boolean(),
      random: fc.constantFrom(false, false, true),
      src: anyAddrArb,
      to: fc.constantFrom('ep' as const, 'vip' as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      r: fc.constant('filter' as const),
      host: fc.constantFrom('node' as const, 'node' as const, 'node' as const, 'node2' as const),
      table: fc.constantFrom(
        'filter' as const,
        'filter' as const,
        'mangle' as const,
        'raw' as const,
        'security' as const,
        'nat' as const,
      ),
      chain: fc.nat({ max: 4 }),
      src: anyAddrArb,
      dst: anyAddrArb,
      proto: fc.boolean(),
      state: fc.constantFrom('any' as const, 'any' as const, ...CT_STATES),
      nth: fc.constantFrom(false, false, false, true),
      verdict: verdictArb,
      rejectWith: fc.nat({ max: REJECT_WITH.length - 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      r: fc.constant('jump' as const),
      table: fc.constantFrom('filter' as const, 'mangle' as const, 'nat' as const),
      chain: fc.nat({ max: 4 }),
      goto: fc.boolean(),
      inner: fc.constantFrom<Addr | 'none'>('none', 'vip', 'ep', 'client', 'pods'),
      innerVerdict: verdictArb,
      after: verdictArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      r: fc.constant('mark' as const),
      setChain: fc.nat({ max: 4 }),
      on: anyAddrArb,
      host: fc.constantFrom('node' as const, 'node2' as const),
      testTable: fc.constantFrom('filter' as const, 'mangle' as const),
      testChain: fc.nat({ max: 4 }),
      verdict: verdictArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      r: fc.constant('natpair' as const),
      snat: fc.boolean(),
      natChain: fc.nat({ max: 1 }),
      table: fc.constantFrom(
        'filter' as const,
        'filter' as const,
        'mangle' as const,
        'raw' as const,
        'security' as const,
      ),
      chain: fc.nat({ max: 4 }),
      sameHook: fc.boolean(),
      after: fc.boolean(),
      verdict: verdictArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      r: fc.constant('policy' as const),
      chain: fc.constantFrom('INPUT' as const, 'FORWARD' as const, 'OUTPUT' as const),
    }),
  },
);

export interface AimedProbe {
  /** a lab host, the host that holds the palette's endpoint (hairpin), or the node whose rules these are
   *  (locally generated traffic: nat and filter OUTPUT, as a host-network pod or the kubelet sends it) */
  from: number | 'owner' | 'local';
  to: Addr;
  proto: 'palette' | Proto;
  port: 'port' | 'tport' | 'other';
  connected: boolean;
  repeat: number;
}

const aimedArb: fc.Arbitrary<AimedProbe> = fc.record({
  from: fc.oneof(
    { weight: 3, arbitrary: fc.nat({ max: LAB_HOSTS.length - 1 }) },
    { weight: 1, arbitrary: fc.constant('owner' as const) },
    { weight: 1, arbitrary: fc.constant('local' as const) },
  ),
  to: fc.constantFrom<Addr>('vip', 'vip', 'ep', 'ep2', 'client'),
  proto: fc.constantFrom<AimedProbe['proto']>('palette', 'palette', 'tcp', 'udp', 'icmp'),
  port: fc.constantFrom<AimedProbe['port']>('port', 'port', 'tport', 'other'),
  connected: fc.constantFrom(true, true, true, false),
  // repeated connections: statistic's sequence, conntrack reuse, affinity
  repeat: fc.constantFrom(1, 1, 1, 2, 3, 4),
});

/** A step between probes. `which` picks one of the rules in place when the step runs. */
export type MidStep =
  | { k: 'delete'; which: number }
  | { k: 'replace'; which: number; rule: Recipe }
  | { k: 'insert'; which: number; rule: Recipe }
  | { k: 'ct-flush' }
  | { k: 'ct-delete'; proto: Proto; dst: Addr }
  | { k: 'partial'; good: Recipe[]; badFirst: boolean; bad: 'chain' | 'option' };

const midArb: fc.Arbitrary<{ at: number; step: MidStep }> = fc.record({
  at: fc.nat({ max: 7 }),
  step: fc.oneof(
    { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), which: fc.nat({ max: 15 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant('replace' as const), which: fc.nat({ max: 15 }), rule: recipeArb }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant('insert' as const), which: fc.nat({ max: 15 }), rule: recipeArb }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('ct-flush' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('ct-delete' as const),
        proto: fc.constantFrom<Proto>('tcp', 'udp', 'icmp'),
        dst: addrArb,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('partial' as const),
        good: fc.array(recipeArb, { minLength: 1, maxLength: 3 }),
        badFirst: fc.constantFrom(false, false, true),
        bad: fc.constantFrom('chain' as const, 'option' as const),
      }),
    },
  ),
});

export interface ReachDraw {
  palette: Palette;
  recipes: Recipe[];
  aimed: AimedProbe[];
  mid: { at: number; step: MidStep }[];
}

export function reachArb(): fc.Arbitrary<ReachDraw> {
  return fc.record({
    palette: fc.record({
      vip: fc.constantFrom(...SERVICE_ADDRS),
      // pods are the usual endpoints: twice as likely as the other addresses
      ep: fc.constantFrom(...ENDPOINTS, ...POD_ENDPOINTS),
      ep2: fc.constantFrom(...ENDPOINTS, ...POD_ENDPOINTS),
      port: fc.constantFrom(...SERVICE_PORTS),
      tport: fc.constantFrom(...TARGET_PORTS),
      proto: fc.constantFrom<Proto>('tcp', 'tcp', 'udp', 'icmp'),
    }),
    recipes: fc.array(recipeArb, { minLength: 1, maxLength: 5 }),
    aimed: fc.array(aimedArb, { minLength: 1, maxLength: 3 }),
    mid: fc.oneof(
      { weight: 1, arbitrary: fc.constant<{ at: number; step: MidStep }[]>([]) },
      { weight: 2, arbitrary: fc.array(midArb, { minLength: 1, maxLength: 3 }) },
    ),
  });
}

const addrOf = (p: Palette, a: Addr): string => (a === 'client' ? CLIENT : a === 'pods' ? K8S_NODE.clusterCIDR : p[a]);

const hooksOf = (table: TableName): readonly string[] => TABLE_HOOKS[table];
const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;

function verdictText(v: Verdict, rejectWith = 0): string {
  if (v === 'REJECT') return `-j REJECT --reject-with ${REJECT_WITH[rejectWith % REJECT_WITH.length]}`;
  return `-j ${v}`;
}

/** The rules a recipe stands for, per host, and the built-in chains it sets to DROP ("table CHAIN"). */
export interface Resolved {
  node: RuleDraw[];
  node2: RuleDraw[];
  policies: string[];
}

export function resolveRecipe(x: Recipe, p: Palette): Resolved {
  const out: Resolved = { node: [], node2: [], policies: [] };
  const rule = (
    table: TableName,
    chainName: string,
    parts: Omit<RuleDraw, 'table' | 'chain' | 'chainName'>,
  ): RuleDraw => {
    // NOTRACK loads only in raw, REJECT only in filter's INPUT, FORWARD and OUTPUT: another verdict there
    let target = parts.target;
    if (target === '-j NOTRACK' && table !== 'raw') target = '-j DROP';
    if (target.startsWith('-j REJECT') && (table !== 'filter' || !['INPUT', 'FORWARD', 'OUTPUT'].includes(chainName)))
      target = '-j DROP';
    if (target === '-j DROP' && table === 'nat') target = '-j RETURN';
    if (target.includes('tcp-reset')) parts = { ...parts, proto: 'tcp' };
    return { table, chain: 0, chainName, ...parts, target };
  };
  const proto = p.proto;
  const dport = (pr: Proto) => (pr === 'icmp' ? undefined : `-m ${pr} --dport ${p.port}`);
  switch (x.r) {
    case 'dnat': {
      const target = (to: string) =>
        `-j DNAT --to-destination ${to}${x.port && p.tport && proto !== 'icmp' ? `:${p.tport}` : ''}` +
        (x.random ? ' --random' : '');
      const match = dport(proto);
      const stat =
        x.stat === 'nth'
          ? '-m statistic --mode nth --every 2 --packet 1'
          : x.stat === 'random'
            ? '-m statistic --mode random --probability 0.50000000000'
            : undefined;
      const both = [match, stat].filter(Boolean).join(' ');
      for (const chain of x.hooks === 'both' ? ['PREROUTING', 'OUTPUT'] : [x.hooks]) {
        out.node.push(
          rule('nat', chain, { dst: p.vip, proto, ...(both ? { match: both } : {}), target: target(p[x.to]) }),
        );
        // kube-proxy's shape: the rule after the statistic one takes the rest
        if (stat)
          out.node.push(
            rule('nat', chain, {
              dst: p.vip,
              proto,
              ...(match ? { match } : {}),
              target: target(p[x.to === 'ep' ? 'ep2' : 'ep']),
            }),
          );
      }
      break;
    }
    case 'snat': {
      const target = x.masq
        ? `-j MASQUERADE${x.random ? ' --random' : ''}`
        : `-j SNAT --to-source ${x.to === 'vip' ? p.vip : p.ep}${x.random ? ' --random' : ''}`;
      const chain = x.masq ? 'POSTROUTING' : x.chain;
      out.node.push(rule('nat', chain, { ...(x.src !== 'any' ? { src: addrOf(p, x.src) } : {}), proto, target }));
      break;
    }
    case 'filter': {
      const table = x.verdict === 'NOTRACK' ? 'raw' : x.table;
      const chain = pick(hooksOf(table), x.chain);
      const matches = [
        x.proto ? dport(proto) : undefined,
        x.state !== 'any' ? `-m conntrack --ctstate ${x.state}` : undefined,
        x.nth ? '-m statistic --mode nth --every 2 --packet 0' : undefined,
      ].filter(Boolean);
      const r = rule(table, chain, {
        ...(x.src !== 'any' ? { src: addrOf(p, x.src) } : {}),
        ...(x.dst !== 'any' ? { dst: addrOf(p, x.dst) } : {}),
        ...(x.proto ? { proto } : {}),
        ...(matches.length ? { match: matches.join(' ') } : {}),
        target: verdictText(x.verdict, x.rejectWith),
      });
      out[x.host].push(r);
      break;
    }
    case 'jump': {
      const chain = pick(hooksOf(x.table), x.chain);
      out.node.push(rule(x.table, chain, { dst: p.vip, target: `${x.goto ? '-g' : '-j'} U1` }));
      if (x.inner !== 'none')
        out.node.push(rule(x.table, 'U1', { src: addrOf(p, x.inner), target: verdictText(x.innerVerdict) }));
      out.node.push(rule(x.table, chain, { target: verdictText(x.after) }));
      break;
    }
    case 'mark': {
      const setChain = pick(hooksOf('mangle'), x.setChain);
      out.node.push(
        rule('mangle', setChain, {
          ...(x.on !== 'any' ? { dst: addrOf(p, x.on) } : {}),
          target: '-j MARK --set-xmark 0x4000/0x4000',
        }),
      );
      const testChain = pick(hooksOf(x.testTable), x.testChain);
      out[x.host].push(
        rule(x.testTable, testChain, { match: '-m mark --mark 0x4000/0x4000', target: verdictText(x.verdict) }),
      );
      break;
    }
    case 'policy':
      out.policies.push(`filter ${x.chain}`);
      break;
    case 'natpair': {
      const natChain = x.snat ? pick(['INPUT', 'POSTROUTING'], x.natChain) : pick(['PREROUTING', 'OUTPUT'], x.natChain);
      out.node.push(
        rule('nat', natChain, {
          ...(x.snat ? {} : { dst: p.vip }),
          proto,
          target: x.snat ? `-j SNAT --to-source ${p.ep}` : `-j DNAT --to-destination ${p.ep}`,
        }),
      );
      // in the NAT's hook, the tables' priorities decide whether the rule sees the address before or after it
      // (PREROUTING, OUTPUT: mangle before nat, filter after; INPUT: filter before nat; net/ipv4/netfilter)
      const table = x.sameHook && !hooksOf(x.table).includes(natChain) ? 'mangle' : x.table;
      const chain = x.sameHook ? natChain : pick(hooksOf(table), x.chain);
      // after the NAT the rule meets the new address; before it, the old one (for SNAT: any but the new one)
      const on = x.snat ? (x.after ? { src: p.ep } : { src: `! -s ${p.ep}` }) : { dst: x.after ? p.ep : p.vip };
      out.node.push(rule(table, chain, { ...on, proto, target: verdictText(x.verdict) }));
      // an ACCEPT decides only with something after it: an allow-list, as an egress or ingress firewall writes it
      if (x.verdict === 'ACCEPT') out.node.push(rule(table, chain, { proto, target: '-j DROP' }));
      break;
    }
  }
  return out;
}

export function resolveAll(recipes: readonly Recipe[], p: Palette): Resolved {
  const all: Resolved = { node: [], node2: [], policies: [] };
  for (const x of recipes) {
    const r = resolveRecipe(x, p);
    all.node.push(...r.node);
    all.node2.push(...r.node2);
    all.policies.push(...r.policies);
  }
  return all;
}

function aimedProbe(a: AimedProbe, p: Palette): ProbeStep {
  const proto = a.proto === 'palette' ? p.proto : a.proto;
  const from =
    a.from === 'owner'
      ? (OWNER[p.ep] ?? NODE.name)
      : a.from === 'local'
        ? NODE.name
        : LAB_HOSTS[a.from % LAB_HOSTS.length]!;
  // the endpoint's own host sending to the endpoint's address never leaves it: it calls its Service (hairpin)
  const to = a.to === 'pods' ? 'ep' : a.from === 'owner' && a.to === 'ep' ? 'vip' : a.to;
  const dst = addrOf(p, to);
  const probe: ProbeStep =
    proto === 'icmp'
      ? { from, proto, dst }
      : { from, proto, dst, dport: a.port === 'port' ? p.port : a.port === 'tport' ? p.tport || 8080 : 9090 };
  if (proto === 'udp' && !a.connected) probe.connected = false;
  if (a.repeat > 1) probe.repeat = a.repeat;
  return probe;
}

/** Where each rule of the node sits: table and chain, in ruleset order (rulesetFrom keeps each chain's order). */
interface Placed {
  table: TableName;
  chain: string;
}

function placedRules(rules: readonly RuleDraw[], backend: IptablesFlavor): Placed[] {
  return rules.filter((r) => acceptedAlone(r, backend)).map((r) => ({ table: r.table, chain: chainOf(r) }));
}

const position = (placed: readonly Placed[], i: number): number =>
  placed.slice(0, i).filter((x) => x.table === placed[i]!.table && x.chain === placed[i]!.chain).length + 1;

/** A command naming U1/U2 runs the real iptables, which refuses it where the table does not declare them (not
 *  every table of the node's rules does): mid-case commands keep to targets every table has. */
const jumpsToUserChain = (r: RuleDraw): boolean => /-[jg] U[12]\b/.test(r.target);

/** The steps of a mid-case change, on the node (undefined: nothing to do, e.g. -D with no rule in place). */
function midSteps(m: MidStep, p: Palette, placed: Placed[], backend: IptablesFlavor): Step | undefined {
  switch (m.k) {
    case 'ct-flush':
      return { conntrack: { host: 'node', flush: true } };
    case 'ct-delete':
      return {
        conntrack: { host: 'node', delete: { proto: m.proto, origDst: addrOf(p, m.dst === 'pods' ? 'ep' : m.dst) } },
      };
    case 'delete': {
      if (!placed.length) return undefined;
      const i = m.which % placed.length;
      const at = placed[i]!;
      const line = `-t ${at.table} -D ${at.chain} ${position(placed, i)}`;
      placed.splice(i, 1);
      return { iptables: { node: [line] } };
    }
    case 'replace': {
      if (!placed.length) return undefined;
      const i = m.which % placed.length;
      const at = placed[i]!;
      const r = resolveRecipe(m.rule, p).node[0];
      if (!r) return undefined;
      const moved = { ...r, table: at.table, chainName: at.chain };
      if (!acceptedAlone(moved, backend) || jumpsToUserChain(moved)) return undefined;
      return { iptables: { node: [`-t ${at.table} -R ${at.chain} ${position(placed, i)} ${ruleText(moved)}`] } };
    }
    case 'insert': {
      const r = resolveRecipe(m.rule, p).node[0];
      if (!r || !acceptedAlone(r, backend) || jumpsToUserChain(r)) return undefined;
      const chain = chainOf(r);
      const count = placed.filter((x) => x.table === r.table && x.chain === chain).length;
      const n = 1 + (m.which % (count + 1));
      // the new rule goes before the n-th rule of its chain (or last)
      let seen = 0;
      let at = placed.length;
      for (const [k, x] of placed.entries())
        if (x.table === r.table && x.chain === chain && ++seen === n) {
          at = k;
          break;
        }
      placed.splice(at, 0, { table: r.table, chain });
      return { iptables: { node: [`-t ${r.table} -I ${chain} ${n} ${ruleText(r)}`] } };
    }
    case 'partial': {
      const good = resolveAll(m.good, p);
      const text = rulesetFrom(good.node, backend, new Set(good.policies));
      const named = new Set([...text.matchAll(/^\*(\w+)/gm)].map((x) => x[1]));
      const badTable = (['mangle', 'raw', 'nat', 'filter'] as TableName[]).find((t) => !named.has(t));
      if (!badTable) return undefined;
      const hook = TABLE_HOOKS[badTable][0]!;
      const badRule = m.bad === 'chain' ? `-A ${hook} -j NO-SUCH-CHAIN` : `-A ${hook} -p tcp --dport 70000 -j ACCEPT`;
      const bad = [
        `*${badTable}`,
        ...TABLE_HOOKS[badTable].map((c) => `:${c} ACCEPT [0:0]`),
        badRule,
        'COMMIT',
        '',
      ].join('\n');
      // the good tables before the bad one are committed, after it they are not (both flavors)
      for (const t of named) {
        if (!m.badFirst) for (let k = placed.length - 1; k >= 0; k--) if (placed[k]!.table === t) placed.splice(k, 1);
      }
      if (!m.badFirst) placed.push(...placedRules(good.node, backend));
      return {
        apply: { node: m.badFirst ? bad + text : text + bad },
        expectRefused: true,
        label: `a restore that fails part-way (${m.bad})`,
      };
    }
  }
}

/** The case's steps: its probes (aimed ones first), with the mid-case changes each followed by the probe before it. */
export function reachSteps(
  d: ReachDraw,
  probes: readonly Probe[],
  nodeRules: readonly RuleDraw[],
  backend: IptablesFlavor,
): Step[] {
  const all: ProbeStep[] = [...d.aimed.map((a) => aimedProbe(a, d.palette)), ...probes.map((x) => ({ ...x }))];
  const placed = placedRules(nodeRules, backend);
  const after = new Map<number, MidStep[]>();
  for (const m of d.mid) {
    const i = m.at % all.length;
    after.set(i, [...(after.get(i) ?? []), m.step]);
  }
  const steps: Step[] = [];
  for (const [i, probe] of all.entries()) {
    steps.push(probe);
    for (const m of after.get(i) ?? []) {
      const s = midSteps(m, d.palette, placed, backend);
      if (!s) continue;
      const { repeat: _r, ...again } = probe;
      steps.push(s, again);
    }
  }
  return steps;
}
