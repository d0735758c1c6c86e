// What a 10,000-case campaign never drew (issue 14 §4, the README's "Still at zero"), drawn on purpose:
// - rules with the rarely written spellings: `tcp --syn`, `sctp --sport/--dport`, `comment`, `nfacct` (the lab
//   creates the counter before the restore: kernel-lab.ts apply), `recent --rttl`, MARK and CONNMARK's
//   --set-mark/--or-mark/--and-mark/--xor-mark (each followed by a test of the mark), CT --zone*, NFLOG, and
//   hashlimit's --hashlimit-htable-* (sizing and garbage collection, which change no verdict here) and time --utc
//   (the default, written out), LOG/TRACE when the host's kernel log stays quiet (`quietLog`: nf_log_all_netns=0,
//   so that LOG and legacy TRACE in a namespace write nothing: nf_log_syslog.c nf_log_allowed);
// - the redirect sysctls (send_redirects on the nodes, accept_redirects where a redirect would land);
// - hairpin mode on node2's bridge port;
// - a node without its default route, so that routing itself answers with ICMP net unreachable (ip_error), on a
//   NATed path too (the corner draws DNAT to an address no route covers);
// - the client reaching the node's bridge address on-link out of its eth0, so that it asks for an address the node
//   holds on another device by ARP, as kube-ipvs0's Service addresses are asked for (the node's eth0 answers
//   unless its arp_ignore, conf.all's or its own, is 1 or more: spec/semantics.md §6.5);
// - a routing loop between the nodes for a Service address, so that ip_forward answers ICMP time exceeded when
//   the TTL runs out, and a DNAT in the loop makes an entry a pass (each remapped: a clash with the one before);
// - steps between probes: `wait`, writes to /proc/net/xt_recent/LIST, a successful `apply`, and iptables
//   -N/-A/-F/-X/-P, each followed by the probe before it again.
// Records and tuples only (no chain), so that shrinking reaches small cases.
import fc from 'fast-check';
import {
  K8S_NODE,
  TABLE_HOOKS,
  k8sNode,
  type NodeFacts,
  type Sysctls,
  type TableName,
  type TopologySpec,
} from '../model/index.ts';
import type { ProbeStep, Step } from './case-file.ts';
import type { CornerRule } from './corner-arbitraries.ts';
import { VIRTUAL_IPS } from './probe-arbitraries.ts';

const [NODE, NODE2] = K8S_NODE.nodes as [NodeFacts, NodeFacts];
const PODS = K8S_NODE.pods.map((p) => p.ip);
const CLIENT = K8S_NODE.others[0]!.ip;
/** where a rare rule points: most probes go to these */
const DSTS = [undefined, VIRTUAL_IPS[2]!, PODS[0]!, PODS[1]!, NODE.addresses[0]!, PODS[2]!] as const;
const SRCS = [undefined, CLIENT, PODS[0]!, K8S_NODE.clusterCIDR] as const;
/** the recent list the rare rules and the `recent` steps share */
export const RARE_RECENT_LIST = 'nfc-rare';
/** the user chain the iptables steps make, fill, empty and remove */
export const RARE_CHAIN = 'NFC-RARE';
const VERDICTS = ['-j DROP', '-j ACCEPT', '-j RETURN', '-j DROP'] as const;

type Kind =
  | 'syn'
  | 'sctp'
  | 'comment'
  | 'nfacct'
  | 'recent'
  | 'mark'
  | 'connmark'
  | 'zone'
  | 'nflog'
  | 'log'
  | 'trace'
  | 'htable'
  | 'utc';

export interface RareRule {
  kind: Kind;
  /** which of the kind's tables and chains */
  chain: number;
  dst: number;
  src: number;
  neg: boolean;
  /** which spelling or value of the kind */
  variant: number;
  verdict: number;
  first: boolean;
}

const ruleArb: fc.Arbitrary<RareRule> = fc.record({
  kind: fc.constantFrom<Kind>(
    'syn',
    'sctp',
    'comment',
    'nfacct',
    'recent',
    'mark',
    'mark',
    'connmark',
    'connmark',
    'zone',
    'nflog',
    'log',
    'trace',
    'htable',
    'utc',
  ),
  chain: fc.nat({ max: 7 }),
  dst: fc.nat({ max: DSTS.length - 1 }),
  src: fc.nat({ max: SRCS.length - 1 }),
  neg: fc.constantFrom(false, false, true),
  variant: fc.nat({ max: 11 }),
  verdict: fc.nat({ max: VERDICTS.length - 1 }),
  first: fc.boolean(),
});

const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
const FILTERING: readonly [TableName, string][] = [
  ['filter', 'INPUT'],
  ['filter', 'FORWARD'],
  ['filter', 'OUTPUT'],
  ['mangle', 'PREROUTING'],
  ['raw', 'PREROUTING'],
  ['mangle', 'POSTROUTING'],
];
const MARK_OPS = ['--set-mark', '--or-mark', '--and-mark', '--xor-mark'] as const;
const MARK_VALUES = ['0x4000', '0x1', '0xffffbfff'] as const;
const NFLOG_OPTS = [
  '--nflog-group 5',
  '--nflog-prefix nfc',
  '--nflog-size 64',
  '--nflog-range 128',
  '--nflog-threshold 1',
  '--nflog-group 7 --nflog-prefix "nfc rare"',
];
const LOG_OPTS = [
  '--log-prefix nfc',
  '--log-level 6',
  '--log-tcp-sequence',
  '--log-tcp-options',
  '--log-ip-options',
  '--log-uid',
  '--log-macdecode',
  '--log-prefix "nfc rare" --log-level 7',
];

/** hashlimit's table settings: a rate no probe reaches (the bucket starts full), each setting alone or all */
const HTABLE_OPTS = [
  '--hashlimit-htable-size 64',
  '--hashlimit-htable-max 128',
  '--hashlimit-htable-gcinterval 500',
  '--hashlimit-htable-expire 2000',
  '--hashlimit-htable-size 256 --hashlimit-htable-max 512' +
    ' --hashlimit-htable-gcinterval 1000 --hashlimit-htable-expire 5000',
];
/** time with --utc written out (the default: the printed rule has none) */
const UTC_OPTS = [
  '--utc',
  '--utc --timestart 00:00 --timestop 23:59:59',
  '--utc --datestart 2020-01-01',
  '--utc --weekdays Mon,Tue,Wed,Thu,Fri,Sat,Sun',
];

/** A rare rule's lines (table, chain, rule text after `-A CHAIN`): the rule, and the rule that tests what it set. */
export function rareRules(r: RareRule): CornerRule[] {
  const addr = [...(SRCS[r.src] ? [`-s ${SRCS[r.src]}`] : []), ...(DSTS[r.dst] ? [`-d ${DSTS[r.dst]}`] : [])];
  const verdict = pick(VERDICTS, r.verdict);
  const at = pick(FILTERING, r.chain);
  const one = (table: TableName, chain: string, parts: string[]): CornerRule => ({
    table,
    chain,
    spec: parts.join(' '),
    first: r.first,
  });
  const mangle = pick(TABLE_HOOKS.mangle, r.chain);
  switch (r.kind) {
    case 'syn':
      return [one(at[0], at[1], [...addr, '-p tcp', r.neg ? '! --syn' : '--syn', verdict])];
    case 'sctp': {
      const opt = pick(['--dport 80', '--sport 1024:65535', '--dport 8080:9090'], r.variant);
      return [one(at[0], at[1], [...addr, '-p sctp -m sctp', r.neg ? `! ${opt}` : opt, verdict])];
    }
    case 'comment': {
      const text = pick(['nfc', '"a rule with a comment"', '"kube-proxy: default/svc:http"'], r.variant);
      return [one(at[0], at[1], [...addr, `-m comment --comment ${text}`, verdict])];
    }
    case 'nfacct':
      return [one(at[0], at[1], [...addr, `-m nfacct --nfacct-name ${pick(['nfc_a', 'nfc_b'], r.variant)}`])];
    case 'recent': {
      // a list filled by one rule and checked by another, with the TTL of the first packet (xt_recent.c)
      const check = pick(['--rcheck', '--update'], r.variant);
      const seconds = r.variant % 3 === 0 ? ' --seconds 60' : '';
      const set = one('filter', 'INPUT', [...addr, `-m recent --name ${RARE_RECENT_LIST} --set`]);
      const test = one('filter', pick(['INPUT', 'FORWARD'], r.chain), [
        `-m recent --name ${RARE_RECENT_LIST} ${r.neg ? '! ' : ''}${check}${seconds} --rttl`,
        verdict,
      ]);
      return [{ ...set, first: true }, test];
    }
    case 'mark':
    case 'connmark': {
      const op = pick(MARK_OPS, r.variant);
      const value = op === '--and-mark' ? pick(['0xffffbfff', '0x4000'], r.variant) : pick(MARK_VALUES, r.variant);
      const mask = op === '--set-mark' && r.variant % 3 === 1 ? '/0xffff' : '';
      const target = r.kind === 'mark' ? 'MARK' : 'CONNMARK';
      const test = r.kind === 'mark' ? '-m mark --mark 0x4000/0x4000' : '-m connmark --mark 0x4000/0x4000';
      // CONNMARK restores the mark on the next packets: the test can meet it on a later packet of the connection
      return [
        one('mangle', mangle, [...addr, `-j ${target} ${op} ${value}${mask}`]),
        {
          ...one(at[0] === 'raw' ? 'filter' : at[0], at[0] === 'raw' ? 'FORWARD' : at[1], [test, verdict]),
          first: false,
        },
      ];
    }
    case 'zone': {
      const opt = pick(['--zone 1', '--zone-orig 2', '--zone-reply 3', '--zone mark'], r.variant);
      return [one('raw', pick(TABLE_HOOKS.raw, r.chain), [...addr, `-j CT ${opt}`])];
    }
    case 'nflog':
      return [one(at[0], at[1], [...addr, `-j NFLOG ${pick(NFLOG_OPTS, r.variant)}`])];
    case 'log':
      return [one(at[0], at[1], [...addr, `-j LOG ${pick(LOG_OPTS, r.variant)}`])];
    case 'trace':
      return [one('raw', pick(TABLE_HOOKS.raw, r.chain), [...addr, '-j TRACE'])];
    case 'htable': {
      const hl = `-m hashlimit --hashlimit-upto 10000/sec --hashlimit-burst 10000 --hashlimit-mode srcip`;
      return [one(at[0], at[1], [...addr, `${hl} --hashlimit-name nfc_hl ${pick(HTABLE_OPTS, r.variant)}`, verdict])];
    }
    case 'utc':
      return [one(at[0], at[1], [...addr, `-m time ${pick(UTC_OPTS, r.variant)}`, verdict])];
  }
}

/** A step between probes (after the probe at `at`, which then runs again). */
export type RareStep =
  | { k: 'wait'; seconds: 1 | 2 }
  | { k: 'recent'; op: 'add' | 'remove' | 'flush'; addr: number }
  | { k: 'apply'; rules: RareRule[] }
  | { k: 'chain'; hook: 'INPUT' | 'FORWARD' | 'OUTPUT'; rule: RareRule; insert: boolean; remove: boolean }
  | { k: 'policy'; chain: 'INPUT' | 'FORWARD' | 'OUTPUT'; restore: boolean };

const stepArb: fc.Arbitrary<{ at: number; step: RareStep }> = fc.record({
  at: fc.nat({ max: 7 }),
  step: fc.oneof(
    { weight: 1, arbitrary: fc.record({ k: fc.constant('wait' as const), seconds: fc.constantFrom<1 | 2>(1, 1, 2) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('recent' as const),
        op: fc.constantFrom('add' as const, 'add' as const, 'remove' as const, 'flush' as const),
        addr: fc.nat({ max: 3 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('apply' as const),
        rules: fc.array(ruleArb, { minLength: 1, maxLength: 3 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('chain' as const),
        hook: fc.constantFrom('INPUT' as const, 'FORWARD' as const, 'OUTPUT' as const),
        rule: ruleArb,
        insert: fc.boolean(),
        remove: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('policy' as const),
        chain: fc.constantFrom('INPUT' as const, 'FORWARD' as const, 'OUTPUT' as const),
        restore: fc.boolean(),
      }),
    },
  ),
});

export interface RareDraw {
  rules: RareRule[];
  sysctls: {
    node: Pick<Sysctls, 'send_redirects' | 'accept_redirects'>;
    node2: Pick<Sysctls, 'send_redirects' | 'accept_redirects'>;
    /** where a redirect from the node would land (a host on the node's links) */
    hosts: Partial<Record<'pod1' | 'client', Pick<Sysctls, 'accept_redirects'>>>;
  };
  /** hairpin mode on node2's bridge port */
  hairpinNode2: boolean;
  /** the node whose default route is gone (a topology variant: the lab changes its routes in place) */
  noDefaultRoute?: 'node' | 'node2' | undefined;
  /** node routes the Service address LOOP_DST to node2, whose default route sends it back: a routing loop that
   *  ends in ICMP time exceeded (ip_forward), DNATed away or not (a topology variant) */
  routingLoop?: boolean | undefined;
  /** the client routes the node's bridge address on-link out of its eth0 (a topology variant) */
  onlinkClient?: boolean | undefined;
  steps: { at: number; step: RareStep }[];
}

const redirectsArb = fc.record({ send_redirects: fc.boolean(), accept_redirects: fc.boolean() });

/** Rare rules, sysctls and steps; shrinks towards no rule, no step, redirects and hairpin off. */
export function rareArb(opts: { quietLog?: boolean } = {}): fc.Arbitrary<RareDraw> {
  const rule = opts.quietLog ? ruleArb : ruleArb.filter((r) => r.kind !== 'log' && r.kind !== 'trace');
  const withRule = <T extends { rule?: RareRule; rules?: RareRule[] }>(s: T) =>
    (s.rule === undefined || opts.quietLog || (s.rule.kind !== 'log' && s.rule.kind !== 'trace')) &&
    (s.rules ?? []).every((x) => opts.quietLog || (x.kind !== 'log' && x.kind !== 'trace'));
  return fc.record({
    rules: fc.array(rule, { minLength: 0, maxLength: 3 }),
    sysctls: fc.record({
      node: redirectsArb,
      node2: redirectsArb,
      hosts: fc.record(
        { pod1: fc.record({ accept_redirects: fc.boolean() }), client: fc.record({ accept_redirects: fc.boolean() }) },
        { requiredKeys: [] },
      ),
    }),
    hairpinNode2: fc.boolean(),
    noDefaultRoute: fc.constantFrom<RareDraw['noDefaultRoute']>(undefined, undefined, undefined, 'node', 'node2'),
    routingLoop: fc.constantFrom(false, false, false, true),
    onlinkClient: fc.constantFrom(false, false, false, true),
    steps: fc.array(
      stepArb.filter((s) => withRule(s.step as { rule?: RareRule; rules?: RareRule[] })),
      { minLength: 0, maxLength: 2 },
    ),
  });
}

const RECENT_ADDRS = [CLIENT, PODS[0]!, PODS[2]!, NODE2.addresses[0]!];

/** The Service address the routing-loop variant loops: the probes' and the DNATs' most drawn one. */
export const LOOP_DST = VIRTUAL_IPS[2]!;

/** k8s-node without `host`'s default route, and/or with node routing LOOP_DST to node2 (which routes it back by
 *  its default route, if it has one): undefined, the preset unchanged, named. */
export function routeVariant(d: RareDraw | undefined): TopologySpec | undefined {
  if (!d?.noDefaultRoute && !d?.routingLoop && !d?.onlinkClient) return undefined;
  const spec = k8sNode();
  if (d.noDefaultRoute) {
    const h = spec.hosts.find((x) => x.name === d.noDefaultRoute)!;
    h.routes = (h.routes ?? []).filter((r) => r.dst !== 'default');
  }
  if (d.routingLoop) {
    const node = spec.hosts.find((x) => x.name === NODE.name)!;
    const gw = NODE2.addresses.find((a) => (node.routes ?? []).some((r) => r.via === a));
    node.routes = [{ dst: `${LOOP_DST}/32`, via: gw ?? NODE2.addresses[0]! }, ...(node.routes ?? [])];
  }
  if (d.onlinkClient) {
    const client = spec.hosts.find((x) => x.name === ONLINK.host)!;
    client.routes = [{ dst: `${ONLINK.dst}/32`, dev: ONLINK.dev }, ...(client.routes ?? [])];
  }
  return spec;
}

/** The on-link variant's route: the client's own interface, and the node's bridge address (the pods' gateway). */
export const ONLINK = onlinkRoute();

/** The probe a topology variant brings: with the on-link variant, the client pings the node's bridge address (its
 *  ARP request goes to the node's eth0: whether that device's arp_ignore answers it is what the variant is for). */
export function variantProbes(d: RareDraw | undefined): ProbeStep[] {
  return d?.onlinkClient ? [{ from: ONLINK.host, proto: 'icmp', dst: ONLINK.dst }] : [];
}

function onlinkRoute(): { host: string; dev: string; dst: string } {
  const t = k8sNode();
  const client = t.hosts.find((h) => h.name === K8S_NODE.others[0]!.name)!;
  const bridge = t.hosts.find((h) => h.name === NODE.name)!.ifaces.find((i) => i.name === NODE.bridge)!;
  return { host: client.name, dev: client.ifaces[0]!.name, dst: bridge.addrs![0]!.split('/')[0]! };
}

/** The rules of a rare draw for the node, with the recent list's rules when a step writes to it. */
export function rareNodeRules(d: RareDraw): CornerRule[] {
  const rules = d.rules.flatMap(rareRules);
  const writes = d.steps.some((s) => s.step.k === 'recent');
  if (writes && !rules.some((r) => r.spec.includes(RARE_RECENT_LIST)))
    rules.push(
      ...rareRules({ kind: 'recent', chain: 0, dst: 0, src: 0, neg: false, variant: 0, verdict: 0, first: true }),
    );
  return rules;
}

/** iptables-restore text of rare rules (each table once, built-in chains ACCEPT). */
function restoreText(rules: readonly CornerRule[]): string {
  const out: string[] = [];
  for (const t of [...new Set(rules.map((r) => r.table))]) {
    out.push(`*${t}`, ...TABLE_HOOKS[t].map((c) => `:${c} ACCEPT [0:0]`));
    for (const r of rules) if (r.table === t) out.push(`-A ${r.chain} ${r.spec}`);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/** The step a rare step stands for, and the step that undoes it later, if any (on the node). */
function stepsOf(s: RareStep, host: string): Step[] {
  switch (s.k) {
    case 'wait':
      return [{ wait: s.seconds }];
    case 'recent': {
      const addr = pick(RECENT_ADDRS, s.addr);
      const w =
        s.op === 'flush'
          ? { host, list: RARE_RECENT_LIST, flush: true as const }
          : s.op === 'add'
            ? { host, list: RARE_RECENT_LIST, add: addr }
            : { host, list: RARE_RECENT_LIST, remove: addr };
      // the list lives while a rule names it (the case's other steps may have removed them all): a rule that only
      // names it (no target: it decides nothing) keeps it, so that the write succeeds on both sides
      const keep: Step = { iptables: { [host]: [`-A OUTPUT -m recent --name ${RARE_RECENT_LIST} --rcheck`] } };
      return [keep, { recent: w }];
    }
    case 'apply': {
      // whole tables replaced, not filter: the recent list's rules and the chain steps' chain live there
      const rules = s.rules.flatMap(rareRules).filter((r) => r.table !== 'filter');
      const text = rules.length ? restoreText(rules) : '*mangle\n-A PREROUTING -m comment --comment nfc\nCOMMIT\n';
      return [{ apply: { [host]: text }, label: 'a restore that succeeds' }];
    }
    case 'chain': {
      const r = rareRules(s.rule).find((x) => x.table === 'filter' && !x.spec.includes(RARE_RECENT_LIST));
      const spec = r?.spec ?? '-p tcp --syn -j DROP';
      const link = s.insert ? `-I ${s.hook} 1 -j ${RARE_CHAIN}` : `-A ${s.hook} -j ${RARE_CHAIN}`;
      const make: Step = { iptables: { [host]: [`-N ${RARE_CHAIN}`, `-A ${RARE_CHAIN} ${spec}`, link] } };
      if (!s.remove) return [make];
      return [
        make,
        { iptables: { [host]: [`-F ${RARE_CHAIN}`, `-D ${s.hook} -j ${RARE_CHAIN}`, `-X ${RARE_CHAIN}`] } },
      ];
    }
    case 'policy': {
      const set: Step = { iptables: { [host]: [`-P ${s.chain} DROP`] } };
      return s.restore ? [set, { iptables: { [host]: [`-P ${s.chain} ACCEPT`] } }] : [set];
    }
  }
}

/**
 * The case's steps with the rare steps put in: each after the probe at its position, followed by that probe
 * again (without repetitions); a step that undoes another comes after the next probe. A chain step is drawn
 * once per case (the chain's name is fixed), and a recent write only when the list's rules are loaded.
 */
export function withRareSteps(steps: readonly Step[], d: RareDraw, host = NODE.name): Step[] {
  const probes = steps.map((s, i) => [s, i] as const).filter(([s]) => 'proto' in s);
  if (!probes.length || !d.steps.length) return [...steps];
  const after = new Map<number, Step[]>();
  let chainDrawn = false;
  for (const { at, step } of d.steps) {
    if (step.k === 'chain') {
      if (chainDrawn) continue;
      chainDrawn = true;
    }
    const k = at % probes.length;
    const [probe, i] = probes[k]!;
    const { repeat: _r, ...again } = probe as ProbeStep;
    const list = after.get(i) ?? [];
    if (step.k === 'recent') list.push(...stepsOf(step, host), again);
    else {
      const [first, undo] = stepsOf(step, host);
      list.push(first!, again);
      if (undo) list.push(undo, again);
    }
    after.set(i, list);
  }
  return steps.flatMap((s, i) => [s, ...(after.get(i) ?? [])]);
}
