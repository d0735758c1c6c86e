// The compiler and the Service-level oracle agree, on the model, for the features of current
// kube-proxy (pkg/proxy/iptables/proxier.go): every local-traffic detector (and none), an
// external IP that is a node address, source ranges that hold the node's address, terminating
// endpoints, internalTrafficPolicy, topology hints, ipMode Proxy, LoadBalancers without node ports.
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNode, type NodeConfig } from '../../src/kube/compile.ts';
import { predict, K8S_NODE_LAYOUT, type ClusterLayout } from '../../src/kube/oracle.ts';
import { modelMiss } from '../../src/conform/oracle-compare.ts';
import { labOf, probe } from '../helpers/model.ts';
import { sourceFor, compileTopology, parseIp, formatIp, k8sNode } from '../../src/model/index.ts';

const cluster = readCluster(
  readFileSync(new URL('../../suites/fixtures/kube-proxy-features.json', import.meta.url), 'utf8'),
  'kube-proxy-features.json',
  { strict: true },
);
// kubelet puts bridge ports in hairpin mode (as the Service cases do): an endpoint may reach itself
const topo = k8sNode();
for (const h of topo.hosts) for (const i of h.ifaces) if (i.name.startsWith('veth-')) i.hairpin = true;
const net = compileTopology(topo);
const zones: Record<string, string> = { node: 'zone-a', node2: 'zone-b' };
const layout0: ClusterLayout = {
  ...K8S_NODE_LAYOUT,
  nodes: K8S_NODE_LAYOUT.nodes.map((n) => ({ ...n, zone: zones[n.name]! })),
};

const ADDRESSES: [string, number][] = [];
for (const s of cluster.services) {
  for (const p of s.ports) {
    if (s.clusterIP) ADDRESSES.push([s.clusterIP, p.port]);
    for (const ip of [...s.externalIPs, ...s.loadBalancerIPs, '203.0.113.22']) ADDRESSES.push([ip, p.port]);
    if (p.nodePort) for (const ip of ['192.168.50.10', '10.0.2.11']) ADDRESSES.push([ip, p.nodePort]);
  }
}
const FROM = ['pod1', 'pod2', 'client', 'node', 'node2', 'pod3'];

/** Every probe the oracle has an answer for: the model's distribution over the compiled rules must be it. */
function agree(config: (node: string) => Omit<NodeConfig, 'nodeName'>, layout: ClusterLayout): string[] {
  const rules: Record<string, string> = {};
  for (const n of ['node', 'node2']) rules[n] = compileNode(cluster, { nodeName: n, zone: zones[n]!, ...config(n) });
  const lab = labOf(rules, topo);
  const misses: string[] = [];
  let judged = 0;
  for (const from of FROM)
    for (const [dst, dport] of ADDRESSES) {
      const pr = { from, proto: 'tcp' as const, dst, dport, sport: 41000 };
      const src = formatIp(sourceFor(net.hosts.get(from)!, parseIp(dst)!) ?? 0);
      // outside the oracle (spec/kube.md §5): a pod reaching another node's Local-policy NodePort keeps its
      // address, so the reply bypasses that node's conntrack and the connection breaks
      const owner = K8S_NODE_LAYOUT.nodes.find((n) => n.addresses.includes(dst))?.name;
      const localNp = cluster.services.some(
        (s) => s.externalTrafficPolicy === 'Local' && s.ports.some((p) => p.nodePort === dport),
      );
      if (from.startsWith('pod') && owner && owner !== K8S_NODE_LAYOUT.entryNode[from] && localNp) continue;
      const want = predict(cluster, layout, pr, src);
      if (!want) continue;
      judged++;
      const dist = probe(lab, pr).map((r) => ({ p: r.p, value: r.value.observation }));
      const miss = modelMiss(want, dist, src, 41000);
      if (miss) misses.push(`${from} -> ${dst}:${dport}: ${miss}`);
    }
  expect(judged).toBeGreaterThan(60);
  return misses;
}

const nodeIPs = (n: string) =>
  n === 'node' ? ['192.168.50.10', '10.244.1.1', '10.0.2.10'] : ['10.0.2.11', '10.244.2.1'];

describe('compiler and oracle agree on the model', () => {
  test('detect-local ClusterCIDR', () => {
    expect(agree((n) => ({ clusterCIDR: '10.244.0.0/16', nodeIPs: nodeIPs(n) }), layout0)).toEqual([]);
  });
  test('detect-local NodeCIDR (each node its own pod range)', () => {
    const cidr = (n: string) => (n === 'node' ? '10.244.1.0/24' : '10.244.2.0/24');
    // a node's detector sees its own pods only; both nodes' pods are local to the node they enter first
    expect(
      agree((n) => ({ detectLocal: { mode: 'NodeCIDR', cidr: cidr(n) }, nodeIPs: nodeIPs(n) }), {
        ...layout0,
        podTraffic: { hosts: ['pod1', 'pod2', 'pod3'] },
      }),
    ).toEqual([]);
  });
  test('detect-local BridgeInterface', () => {
    expect(
      agree((n) => ({ detectLocal: { mode: 'BridgeInterface', iface: 'cni0' }, nodeIPs: nodeIPs(n) }), {
        ...layout0,
        podTraffic: { hosts: ['pod1', 'pod2', 'pod3'] },
      }),
    ).toEqual([]);
  });
  test('no local-traffic detector', () => {
    expect(agree((n) => ({ nodeIPs: nodeIPs(n) }), { ...layout0, podTraffic: 'none' })).toEqual([]);
  });
  test('masquerade-all', () => {
    expect(
      agree((n) => ({ clusterCIDR: '10.244.0.0/16', masqueradeAll: true, nodeIPs: nodeIPs(n) }), {
        ...layout0,
        masqueradeAll: true,
      }),
    ).toEqual([]);
  });
});

describe('rules of current kube-proxy', () => {
  const text = compileNode(cluster, {
    nodeName: 'node',
    nodeIPs: ['192.168.50.10'],
    clusterCIDR: '10.244.0.0/16',
    localhostNodePorts: true,
    nfacct: true,
    canary: true,
    zone: 'zone-a',
  });
  test('health check node port ACCEPTed in filter KUBE-NODEPORTS', () => {
    expect(text).toContain(
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/hc:http health check node port" -m' +
        ' tcp --dport 32100 -j ACCEPT',
    );
  });
  test('a source range holding the node address admits the load-balancer IPs; the FW chain ends in a comment', () => {
    expect(text).toMatch(
      /-A KUBE-FW-\S+ -s 203\.0\.113\.20\/32 -m comment --comment "default\/lbr:http loadbalancer IP" -j KUBE-EXT-/,
    );
    expect(text).toMatch(
      new RegExp(
        '-A KUBE-FW-\\S+ -m comment --comment "other traffic to default/lbr:http' +
          ' will be dropped by KUBE-PROXY-FIREWALL"\n',
      ),
    );
  });
  test('nfacct, canary chains, KUBE-FIREWALL, --random-fully', () => {
    expect(text).toMatch(
      /-A KUBE-NODEPORTS -d 127\.0\.0\.0\/8 -p tcp .* -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-/,
    );
    expect(text).toContain(
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP',
    );
    expect(text).toMatch(/^\*mangle\n(.*\n)*:KUBE-PROXY-CANARY - \[0:0\]/m);
    expect(text.match(/:KUBE-PROXY-CANARY/g)!.length).toBe(3);
    expect(text).toContain('-A INPUT -j KUBE-FIREWALL');
    expect(text).toContain('-j MASQUERADE --random-fully');
    expect(compileNode(cluster, { nodeName: 'node', randomFully: false })).not.toContain('--random-fully');
  });
  test('ipMode Proxy programs nothing; a LoadBalancer without node ports has no KUBE-NODEPORTS rule', () => {
    expect(text).not.toContain('203.0.113.22');
    expect(text).not.toMatch(/default\/nonp:http.*--dport 3\d{4}/);
    expect(text).toMatch(/-d 203\.0\.113\.23\/32 .*default\/nonp:http loadbalancer IP/);
  });
  test('topology hints: the node in zone-a uses its zone-a endpoint only', () => {
    expect(text).toContain('default/topo:http -> 10.244.1.11:8080');
    expect(text).not.toContain('default/topo:http -> 10.244.2.13:8080');
  });
  test('--nodeport-addresses: CIDRs, primary, loopback only with localhost NodePorts', () => {
    const np = (addrs: string[], localhost = false) =>
      compileNode(cluster, {
        nodeName: 'node',
        nodeIPs: ['192.168.50.10', '10.0.2.10'],
        nodePortAddresses: addrs,
        localhostNodePorts: localhost,
      })
        .split('\n')
        .filter((l) => l.includes('-j KUBE-NODEPORTS') && l.startsWith('-A KUBE-SERVICES'))
        .map((l) => (l.includes('addrtype') ? 'LOCAL' : /-d (\S+)/.exec(l)![1]));
    expect(np(['192.168.50.0/24'])).toEqual(['192.168.50.10/32']);
    expect(np(['primary'])).toEqual(['192.168.50.10/32']);
    expect(np(['10.0.0.0/8', '127.0.0.0/8'])).toEqual(['10.0.2.10/32']);
    expect(np(['10.0.0.0/8', '127.0.0.0/8'], true)).toEqual(['10.0.2.10/32', '127.0.0.1/32']);
    expect(np(['0.0.0.0/0'])).toEqual(['LOCAL']);
    expect(np([])).toEqual(['LOCAL']);
  });
  test('InterfaceNamePrefix masquerades what does not enter through a pod interface', () => {
    const t = compileNode(cluster, { nodeName: 'node', detectLocal: { mode: 'InterfaceNamePrefix', prefix: 'veth' } });
    expect(t).toMatch(/! -i veth\+ -d 10\.96\.1\.1\/32 .* -j KUBE-MARK-MASQ/);
  });
});
