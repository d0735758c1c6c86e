// Random namespaces mixing native nft base chains with iptables rules of either flavor, in a random load
// order, on the standard lab (issue #16 "Fuzz"): rules aimed at the lab's own addresses and ports so that
// probes meet them, base chains at priorities around iptables' own and conntrack's, nat chains with dnat,
// numgen and masquerade, and nft steps between probes. The cases carry no expectations: the kernel judges the
// model (scripts/nft-fuzz.ts).
import fc from 'fast-check';
import type { CaseFile, HostSettings, NftStep, ProbeStep, Step } from './case-file.ts';
import { K8S_NODE, type LoadKind, type NodeFacts } from '../model/index.ts';

// the lab's facts (one source: model/net/preset-facts.ts)
const NODE = K8S_NODE.nodes[0] as NodeFacts;
const NODE_IP = NODE.addresses[0]!;
const BRIDGE_IP = NODE.addresses[1]!;
const POD_NAMES = K8S_NODE.pods.filter((p) => p.node === NODE.name).map((p) => p.name) as [string, string];
const PODS = K8S_NODE.pods.filter((p) => p.node === NODE.name).map((p) => p.ip) as [string, string];
const CLIENT_HOST = K8S_NODE.others[0]!;
const CLIENT = CLIENT_HOST.ip;
const PORTS = K8S_NODE.serverPorts as [number, number];
const [P1, P2] = PORTS;
const MARKS = ['0x1', '0x2'];
const ADDRS = [CLIENT, ...PODS, NODE_IP];
const VIP = '10.96.0.100';

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const port = pick(PORTS);
const mark = pick(MARKS);
const addr = pick(ADDRS);

type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/** rules a filter chain may hold (every one in nft's subset, valid at every hook unless noted) */
function filterRule(hook: Hook): fc.Arbitrary<string> {
  const any: fc.Arbitrary<string>[] = [
    port.map((p) => `tcp dport ${p} drop`),
    port.map((p) => `tcp dport ${p} counter accept`),
    fc.tuple(port, mark).map(([p, m]) => `tcp dport ${p} meta mark set ${m}`),
    mark.map((m) => `meta mark ${m} drop`),
    mark.map((m) => `meta mark ${m} counter`),
    addr.map((a) => `ip saddr ${a} counter`),
    addr.map((a) => `ip daddr ${a} tcp dport ${P2} drop`),
    fc.constant('ct state established,related accept'),
    port.map((p) => `ct state new tcp dport ${p} counter`),
    mark.map((m) => `ct mark set ${m}`),
    mark.map((m) => `ct mark ${m} drop`),
    fc.constant('ip protocol icmp jump u'),
    port.map((p) => `tcp dport ${p} goto u`),
    fc.constant(`fib daddr type local udp dport ${P2} drop`),
    fc.constant('numgen random mod 2 vmap { 0 : jump u, 1 : continue }'),
    // numgen inc: a counter every packet that reaches the rule moves on (nft_numgen.c), a mark from a random draw
    fc.constant('numgen inc mod 2 vmap { 0 : jump u, 1 : continue }'),
    fc.constant('meta mark set numgen random mod 2 map { 0 : 0x1, 1 : 0x2 }'),
    // the table's named sets (SETS below): a lookup, a verdict map, a set rules fill, an anonymous set
    fc.constant('ip saddr @blk drop'),
    fc.constant('tcp dport @ports counter accept'),
    fc.constant(`ip daddr . meta l4proto . th dport vmap @svc`),
    fc.constant('update @seen { ip saddr }'),
    fc.constant('ip saddr @seen meta mark set 0x1'),
    fc.constant('ip saddr != @seen counter'),
    fc.tuple(addr, addr).map(([a, b]) => `ip saddr { ${a}, ${b} } tcp dport ${P2} drop`),
    // data maps (nft_lookup.c with a data register; a miss ends the rule): a mark from the table's map or an
    // anonymous one, and a map rules fill with a value (nft_dynset.c)
    fc.constant('meta mark set tcp dport map @mk'),
    mark.map((m) => `ct mark set ip saddr map { ${CLIENT} : ${m} } counter`),
    fc.constant('update @dmk { ip saddr : 0x2 }'),
    fc.constant('meta mark set ip saddr map @dmk'),
  ];
  if (hook !== 'postrouting')
    any.push(
      port.map((p) => `udp dport ${p} reject`),
      fc.constant(`tcp dport ${P2} reject with tcp reset`),
    );
  if (hook === 'prerouting' || hook === 'input' || hook === 'forward')
    any.push(fc.constant(`iifname "eth0" udp dport ${P1} drop`));
  if (hook === 'forward' || hook === 'output' || hook === 'postrouting')
    any.push(fc.constant(`oifname "${NODE.bridge}" tcp dport ${P2} drop`));
  return fc.oneof(...any);
}

const dnatRule = fc.oneof(
  pick(PODS).map((p) => `ip daddr ${VIP} tcp dport 80 dnat to ${p}:${P1}`),
  fc.constant(`ip daddr ${VIP} tcp dport 80 numgen random mod 2 vmap { 0 : jump e1, 1 : jump e2 }`),
  mark.map((m) => `ip daddr ${VIP} meta mark set ${m}`),
  // an address and port from the table's map (VIP:81 misses it: the rule ends), or an address from an anonymous one
  fc.constant(`ip daddr ${VIP} meta l4proto tcp dnat to ip daddr . th dport map @nat2`),
  fc.constant(`ip daddr ${VIP} dnat to tcp dport map { 80 : ${PODS[1]}, 81 : ${PODS[0]} } : ${P2}`),
  // data maps keyed by numgen (kube-proxy 1.36's endpoint choice; a value the map lacks ends the rule; inc)
  fc.constant(
    `ip daddr ${VIP} meta l4proto tcp dnat ip to numgen random mod 2 map` +
      ` { 0 : ${PODS[0]} . ${P1}, 1 : ${PODS[1]} . ${P2} }`,
  ),
  fc.constant(
    `ip daddr ${VIP} tcp dport 80 dnat to numgen random mod 3 map { 0 : ${PODS[0]}, 2 : ${PODS[1]} } : ${P1}`,
  ),
  fc.constant(
    `ip daddr ${VIP} tcp dport 80 dnat to numgen inc mod 2 offset 1 map { 1 : ${PODS[0]}, 2 : ${PODS[1]} } : ${P2}`,
  ),
  fc.constant(`ip daddr ${VIP} meta mark set numgen inc mod 2 map { 0 : 0x1, 1 : 0x2 }`),
);
const srcnatRule = fc.oneof(
  fc.constant(`ip daddr ${NODE.podCidr} masquerade`),
  fc.constant(`ip saddr ${CLIENT} oifname "${NODE.bridge}" snat to ${BRIDGE_IP}`),
  mark.map((m) => `meta mark ${m} masquerade`),
  fc.constant(`ip saddr ${CLIENT} oifname "${NODE.bridge}" snat to ip saddr map { ${CLIENT} : ${BRIDGE_IP} }`),
);

interface ChainDraw {
  type: 'filter' | 'nat';
  hook: Hook;
  prio: number;
  policy: 'accept' | 'drop';
  rules: string[];
}

const PRIOS = [-310, -300, -200, -160, -150, -101, -100, -99, -5, 0, 5, 50, 99, 100, 101];
const HOOKS: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

const filterChain: fc.Arbitrary<ChainDraw> = pick(HOOKS).chain((hook) =>
  fc.record({
    type: fc.constant('filter' as const),
    hook: fc.constant(hook),
    prio: pick(PRIOS),
    policy: fc.constantFrom<('accept' | 'drop')[]>('accept', 'accept', 'accept', 'drop'),
    rules: fc.array(filterRule(hook), { maxLength: 3 }),
  }),
);
const natChain: fc.Arbitrary<ChainDraw> = fc.oneof(
  fc.record({
    type: fc.constant('nat' as const),
    hook: fc.constant<Hook>('prerouting'),
    prio: pick([-105, -100, -95, -50]),
    policy: fc.constant<'accept'>('accept'),
    rules: fc.array(dnatRule, { minLength: 1, maxLength: 2 }),
  }),
  fc.record({
    type: fc.constant('nat' as const),
    hook: fc.constant<Hook>('postrouting'),
    prio: pick([95, 100, 105]),
    policy: fc.constant<'accept'>('accept'),
    rules: fc.array(srcnatRule, { minLength: 1, maxLength: 2 }),
  }),
);

/** The table's named sets, always declared (a set no rule names changes nothing): addresses a rule drops, ports it
 *  accepts, a verdict map keyed like kube-proxy's service-ips (verdicts valid at every hook), and a set the
 *  packet path fills (nft_dynset.c, as kube-proxy's affinity sets). */
const SETS = [
  `  set blk { type ipv4_addr; elements = { ${CLIENT}, ${PODS[1]} }; }`,
  `  set ports { type inet_service; elements = { ${P1} }; }`,
  `  map svc { type ipv4_addr . inet_proto . inet_service : verdict; elements = { ${VIP} . tcp . 80 : drop,` +
    ` ${PODS[0]} . tcp . ${P2} : jump u, ${NODE_IP} . udp . ${P1} : accept }; }`,
  '  set seen { type ipv4_addr; flags dynamic,timeout; timeout 1m; }',
  // data maps: an address and a port for dnat, marks by port, marks rules put in
  '  map nat2 { type ipv4_addr . inet_service : ipv4_addr . inet_service;' +
    ` elements = { ${VIP} . 80 : ${PODS[0]} . ${P1} }; }`,
  `  map mk { type inet_service : mark; elements = { ${P1} : 0x1 }; }`,
  '  map dmk { type ipv4_addr : mark; flags dynamic,timeout; timeout 1m; }',
];

/** an nft ruleset of one table: base chains, and the regular chains u, e1, e2 they may jump to */
export const nftMixRuleset: fc.Arbitrary<string> = fc
  .tuple(pick(['ip', 'inet']), fc.array(fc.oneof(filterChain, filterChain, natChain), { minLength: 1, maxLength: 3 }))
  .map(([family, chains]) => {
    const L = [`table ${family} fz {`];
    chains.forEach((c, i) => {
      L.push(`  chain b${i} {`, `    type ${c.type} hook ${c.hook} priority ${c.prio}; policy ${c.policy};`);
      for (const r of c.rules) L.push(`    ${r}`);
      L.push('  }');
    });
    // dnat in e1/e2 needs an ip protocol context in an inet table
    const ipTo = family === 'inet' ? 'ip to' : 'to';
    L.push(...SETS);
    L.push('  chain u {', '    meta mark set 0x2', `    udp dport ${P2} drop`, '  }');
    L.push('  chain e1 {', `    meta l4proto tcp dnat ${ipTo} ${PODS[0]}:${P1}`, '  }');
    L.push('  chain e2 {', `    meta l4proto tcp dnat ${ipTo} ${PODS[1]}:${P1}`, '  }', '}');
    return L.join('\n') + '\n';
  });

const iptablesLine = fc.oneof(
  mark.map((m) => `iptables -A INPUT -m mark --mark ${m} -j DROP`),
  port.map((p) => `iptables -A INPUT -p tcp --dport ${p} -j DROP`),
  mark.map((m) => `iptables -A FORWARD -m mark --mark ${m} -j DROP`),
  fc.tuple(port, mark).map(([p, m]) => `iptables -t mangle -A PREROUTING -p tcp --dport ${p} -j MARK --set-mark ${m}`),
  pick(PODS).map(
    (p) => `iptables -t nat -A PREROUTING -d 10.96.0.100 -p tcp --dport 80 -j DNAT --to-destination ${p}:8080`,
  ),
  fc.constant(`iptables -t nat -A POSTROUTING -d ${NODE.podCidr} -j MASQUERADE`),
  port.map((p) => `iptables -A INPUT -p tcp --dport ${p} -m conntrack --ctstate NEW -j REJECT`),
  fc.constant(`iptables -t raw -A PREROUTING -p udp --dport ${P2} -j NOTRACK`),
);

/** One command of an nft step between probes, as kube-proxy's nftables mode updates a node (spec/nft.md §8.2):
 *  elements in and out of the sets (the client's address, which `update @seen` puts there too), flushed chains,
 *  rules added and deleted by handle (handles drawn near the table's: some name a rule, some nothing), the
 *  regular chain e2 deleted (busy while a rule jumps to it). `%F` is the table's family; chains b1 and b2 may not
 *  exist: the kernel refuses, and so must the model. */
const chainNo = fc.oneof(
  { arbitrary: fc.constant(0), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 2 }), weight: 1 },
);
const handle = fc.integer({ min: 4, max: 16 });
const nftCommand: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.tuple(pick(['blk', 'seen']), addr).map(([s, a]) => `add element %F fz ${s} { ${a} }`), weight: 3 },
  { arbitrary: fc.tuple(pick(['blk', 'seen']), addr).map(([s, a]) => `delete element %F fz ${s} { ${a} }`), weight: 1 },
  { arbitrary: port.map((p) => `add element %F fz ports { ${p} }`), weight: 1 },
  { arbitrary: fc.constant(`delete element %F fz ports { ${P1} }`), weight: 1 },
  { arbitrary: fc.constant(`add element %F fz seen { ${CLIENT} timeout 30s }`), weight: 1 },
  { arbitrary: fc.constant(`delete element %F fz seen { ${CLIENT} }`), weight: 2 },
  { arbitrary: chainNo.map((i) => `flush chain %F fz b${i}`), weight: 2 },
  { arbitrary: fc.tuple(chainNo, handle).map(([i, h]) => `delete rule %F fz b${i} handle ${h}`), weight: 3 },
  { arbitrary: fc.tuple(chainNo, port).map(([i, p]) => `add rule %F fz b${i} tcp dport ${p} drop`), weight: 3 },
  { arbitrary: fc.tuple(chainNo, addr).map(([i, a]) => `insert rule %F fz b${i} ip saddr ${a} accept`), weight: 2 },
  { arbitrary: fc.constant('add rule %F fz b0 ip saddr @seen counter'), weight: 1 },
  { arbitrary: handle.map((h) => `delete rule %F fz u handle ${h}`), weight: 1 },
  { arbitrary: fc.constant(`add rule %F fz u tcp dport ${P1} drop`), weight: 1 },
  { arbitrary: fc.constant('delete chain %F fz e2'), weight: 1 },
);
/** an nft step: one or two commands, one transaction */
const nftStepDraw = fc.array(nftCommand, { minLength: 1, maxLength: 2 });

const C = CLIENT_HOST.name;
const PROBES: ProbeStep[] = [
  { from: C, proto: 'tcp', dst: NODE_IP, dport: P1 },
  { from: C, proto: 'tcp', dst: NODE_IP, dport: P2 },
  { from: C, proto: 'udp', dst: NODE_IP, dport: P2 },
  { from: C, proto: 'udp', dst: NODE_IP, dport: P1 },
  { from: C, proto: 'tcp', dst: VIP, dport: 80 },
  { from: C, proto: 'tcp', dst: VIP, dport: 81 },
  { from: C, proto: 'tcp', dst: PODS[0], dport: P2 },
  { from: C, proto: 'icmp', dst: NODE_IP },
  { from: POD_NAMES[0], proto: 'tcp', dst: VIP, dport: 80 },
  { from: POD_NAMES[1], proto: 'tcp', dst: NODE_IP, dport: P2 },
  { from: NODE.name, proto: 'tcp', dst: PODS[1], dport: P1 },
  { from: NODE.name, proto: 'udp', dst: CLIENT, dport: P2 },
];

/** One mixed namespace on `node`: nft, maybe iptables rules in either flavor or both, in a random order. */
export const nftMixCase: fc.Arbitrary<CaseFile> = fc
  .record({
    nft: nftMixRuleset,
    backend: pick(['nft', 'legacy'] as const),
    ruleset: fc.option(fc.array(iptablesLine, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    other: fc.option(fc.array(iptablesLine, { minLength: 1, maxLength: 2 }), { freq: 4, nil: undefined }),
    probes: fc.shuffledSubarray(PROBES, { minLength: 2, maxLength: 4 }),
    // before each probe but the first, maybe an nft step
    commands: fc.array(fc.option(nftStepDraw, { freq: 2, nil: undefined }), { minLength: 4, maxLength: 4 }),
    seed: fc.nat(),
  })
  .map((d) => {
    const node: HostSettings = { backend: d.backend, nft: d.nft, sysctls: { ip_forward: true } };
    const kinds: LoadKind[] = ['nft'];
    if (d.ruleset) {
      node.ruleset = d.ruleset.join('\n') + '\n';
      kinds.push('ruleset');
      if (d.other) {
        node.otherBackendRuleset = d.other.join('\n') + '\n';
        kinds.push('otherBackendRuleset');
      }
    }
    // a permutation from the seed
    const order = [...kinds];
    for (let i = order.length - 1, s = d.seed; i > 0; i--, s = Math.floor(s / 7)) {
      const j = s % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    if (order.length > 1) node.loadOrder = order;
    const family = /^table (\w+)/.exec(d.nft)![1]!;
    const steps: Step[] = d.probes.flatMap((p, i) => {
      const cmds = i > 0 ? d.commands[i] : undefined;
      const nft: NftStep[] = cmds
        ? [{ nft: { [NODE.name]: cmds.map((c) => c.replace('%F', family)).join('\n') + '\n' } }]
        : [];
      return [...nft, { ...p }];
    });
    return {
      name: 'nft mix',
      tags: ['fuzz', 'nft'],
      topology: 'k8s-node',
      hosts: { [NODE.name]: node },
      steps,
    } as CaseFile;
  });
