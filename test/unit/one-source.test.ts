// One source for each fact (issue #11): the `k8s-node` preset's addresses, subnets and bridge ports are
// written in src/model/net/presets.ts only; everything else derives them (model/net/preset-facts.ts).
import { test, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { K8S_NODE, k8sNode } from '../../src/model/index.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const HOME = 'model/net/presets.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mts)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

test('the preset facts are derived from the preset topology', () => {
  expect(K8S_NODE.nodes.map((n) => [n.name, n.addresses[0], n.podCidr, n.bridgePorts])).toEqual([
    ['node', '192.168.50.10', '10.244.1.0/24', ['veth-pod1', 'veth-pod2']],
    ['node2', '10.0.2.11', '10.244.2.0/24', ['veth-pod3']],
  ]);
  expect(K8S_NODE.pods.map((p) => `${p.name}@${p.node}`)).toEqual(['pod1@node', 'pod2@node', 'pod3@node2']);
  expect(K8S_NODE.entryNode).toEqual({
    node: 'node',
    node2: 'node2',
    pod1: 'node',
    pod2: 'node',
    pod3: 'node2',
    client: 'node',
  });
  // every address of the topology is someone's, and each pod CIDR lies in the cluster CIDR
  const all = k8sNode().hosts.flatMap((h) => h.ifaces.flatMap((f) => f.addrs ?? []));
  expect(K8S_NODE.addresses.length).toBe(all.length);
  for (const n of K8S_NODE.nodes)
    expect(n.podCidr.startsWith(K8S_NODE.clusterCIDR.split('.').slice(0, 2).join('.'))).toBe(true);
});

test("no source file outside presets.ts writes the preset's addresses, subnets or bridge ports in a string", () => {
  const facts = [
    ...K8S_NODE.addresses,
    ...K8S_NODE.subnets,
    K8S_NODE.clusterCIDR,
    ...K8S_NODE.nodes.flatMap((n) => n.bridgePorts),
  ];
  const found: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file);
    if (rel === HOME) continue;
    const code = readFileSync(file, 'utf8')
      .split('\n')
      .map((line, i) => [i + 1, line.replace(/\/\/.*$/, '')] as const)
      .filter(([, line]) => !/^\s*\*/.test(line) && !/^\s*\/\*/.test(line));
    for (const [n, line] of code)
      for (const f of facts) if (line.includes(`'${f}'`) || line.includes(`"${f}"`)) found.push(`${rel}:${n}: ${f}`);
  }
  expect(found).toEqual([]);
});
