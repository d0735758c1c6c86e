// --nodeport-addresses in case files (issue #13): read and checked at load, given to the implementation,
// and known to the oracle (an address outside them has no NodePort rule).
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCase } from '../../src/conform/case-file.ts';
import { nodePortAddressOf, K8S_NODE_LAYOUT } from '../../src/kube/oracle.ts';

const SUITE = fileURLToPath(new URL('../../suites/kube-proxy/', import.meta.url));
const FILE = join(SUITE, 'TestNodePorts-nodeport-addresses-multiple.json');
const raw = (): { services: Record<string, unknown> } => JSON.parse(readFileSync(FILE, 'utf8'));

test('a case file carries --nodeport-addresses; a bad entry is refused with its JSON path', () => {
  expect(checkCase(raw(), FILE).services?.nodePortAddresses).toEqual(['192.168.50.0/24', '10.0.2.0/24']);
  for (const bad of ['10.0.0.0/33', 'eth0', '2001:db8::/64', ''])
    expect(() => checkCase({ ...raw(), services: { ...raw().services, nodePortAddresses: [bad] } }, FILE)).toThrow(
      /services\.nodePortAddresses\[0\]|services\/nodePortAddresses\/0|nodePortAddresses/,
    );
});

test('the oracle answers NodePorts only on the node addresses inside --nodeport-addresses', () => {
  const layout = { ...K8S_NODE_LAYOUT, nodePortAddresses: ['192.168.50.0/24'] };
  expect(nodePortAddressOf(layout, 'node', '192.168.50.10')).toBe(true);
  expect(nodePortAddressOf(layout, 'node', '10.0.2.10')).toBe(false);
  expect(nodePortAddressOf({ ...layout, nodePortAddresses: ['primary'] }, 'node2', '10.0.2.11')).toBe(true);
  expect(nodePortAddressOf({ ...layout, nodePortAddresses: ['primary'] }, 'node2', '10.244.2.1')).toBe(false);
  expect(nodePortAddressOf(K8S_NODE_LAYOUT, 'node', '10.0.2.10')).toBe(true);
});
