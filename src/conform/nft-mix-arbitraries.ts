// Random namespaces mixing native nft base chains with iptables rules of either flavor, in a random load
// order, on the standard lab (issue #16 "Fuzz"): rules aimed at the lab's own addresses and ports so that
// probes meet them, base chains at priorities around iptables' own and conntrack's, nat chains with dnat,
// numgen and masquerade. The cases carry no expectations: the kernel judges the model (scripts/nft-fuzz.ts).
import fc from 'fast-check';
import type { CaseFile, HostSettings, ProbeStep } from './case-file.ts';
import type { LoadKind } from '../model/index.ts';

const PORTS = [8080, 9090];
const MARKS = ['0x1', '0x2'];
const ADDRS = ['192.168.50.20', '10.244.1.11', '10.244.1.12', '192.168.50.10'];
const PODS = ['10.244.1.11', '10.244.1.12'];

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
    addr.map((a) => `ip daddr ${a} tcp dport 9090 drop`),
    fc.constant('ct state established,related accept'),
    port.map((p) => `ct state new tcp dport ${p} counter`),
    mark.map((m) => `ct mark set ${m}`),
    mark.map((m) => `ct mark ${m} drop`),
    fc.constant('ip protocol icmp jump u'),
    port.map((p) => `tcp dport ${p} goto u`),
    fc.constant('fib daddr type local udp dport 9090 drop'),
    fc.constant('numgen random mod 2 vmap { 0 : jump u, 1 : continue }'),
  ];
  if (hook !== 'postrouting')
    any.push(
      port.map((p) => `udp dport ${p} reject`),
      fc.constant('tcp dport 9090 reject with tcp reset'),
    );
  if (hook === 'prerouting' || hook === 'input' || hook === 'forward')
    any.push(fc.constant('iifname "eth0" udp dport 8080 drop'));
  if (hook === 'forward' || hook === 'output' || hook === 'postrouting')
    any.push(fc.constant('oifname "cni0" tcp dport 9090 drop'));
  return fc.oneof(...any);
}

const dnatRule = fc.oneof(
  pick(PODS).map((p) => `ip daddr 10.96.0.100 tcp dport 80 dnat to ${p}:8080`),
  fc.constant('ip daddr 10.96.0.100 tcp dport 80 numgen random mod 2 vmap { 0 : jump e1, 1 : jump e2 }'),
  mark.map((m) => `ip daddr 10.96.0.100 meta mark set ${m}`),
);
const srcnatRule = fc.oneof(
  fc.constant('ip daddr 10.244.1.0/24 masquerade'),
  fc.constant('ip saddr 192.168.50.20 oifname "cni0" snat to 10.244.1.1'),
  mark.map((m) => `meta mark ${m} masquerade`),
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
    L.push('  chain u {', '    meta mark set 0x2', '    udp dport 9090 drop', '  }');
    L.push('  chain e1 {', `    meta l4proto tcp dnat ${ipTo} 10.244.1.11:8080`, '  }');
    L.push('  chain e2 {', `    meta l4proto tcp dnat ${ipTo} 10.244.1.12:8080`, '  }', '}');
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
  fc.constant('iptables -t nat -A POSTROUTING -d 10.244.1.0/24 -j MASQUERADE'),
  port.map((p) => `iptables -A INPUT -p tcp --dport ${p} -m conntrack --ctstate NEW -j REJECT`),
  fc.constant('iptables -t raw -A PREROUTING -p udp --dport 9090 -j NOTRACK'),
);

const PROBES: ProbeStep[] = [
  { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 },
  { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090 },
  { from: 'client', proto: 'udp', dst: '192.168.50.10', dport: 9090 },
  { from: 'client', proto: 'udp', dst: '192.168.50.10', dport: 8080 },
  { from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80 },
  { from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 9090 },
  { from: 'client', proto: 'icmp', dst: '192.168.50.10' },
  { from: 'pod1', proto: 'tcp', dst: '10.96.0.100', dport: 80 },
  { from: 'pod2', proto: 'tcp', dst: '192.168.50.10', dport: 9090 },
  { from: 'node', proto: 'tcp', dst: '10.244.1.12', dport: 8080 },
  { from: 'node', proto: 'udp', dst: '192.168.50.20', dport: 9090 },
];

/** One mixed namespace on `node`: nft, maybe iptables rules in either flavor or both, in a random order. */
export const nftMixCase: fc.Arbitrary<CaseFile> = fc
  .record({
    nft: nftMixRuleset,
    backend: pick(['nft', 'legacy'] as const),
    ruleset: fc.option(fc.array(iptablesLine, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    other: fc.option(fc.array(iptablesLine, { minLength: 1, maxLength: 2 }), { freq: 4, nil: undefined }),
    probes: fc.shuffledSubarray(PROBES, { minLength: 2, maxLength: 4 }),
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
    return {
      name: 'nft mix',
      tags: ['fuzz', 'nft'],
      topology: 'k8s-node',
      hosts: { node },
      steps: d.probes.map((p) => ({ ...p })),
    } as CaseFile;
  });
