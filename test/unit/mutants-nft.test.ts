// The compiler mutants' nftables-mode twins: each changes what compile --mode nftables writes, in the shape of
// every kube-proxy release it writes (kube-proxy-version.ts), and the model still reads the mutated table (so a
// kill is behaviour, not a parse error).
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNodeNft } from '../../src/kube/compile-nft.ts';
import { KUBE_PROXY_VERSIONS } from '../../src/kube/kube-proxy-version.ts';
import { MUTANTS, applies } from '../../src/kube/mutants.ts';
import { parseNft } from '../../src/model/index.ts';

const fixture = readFileSync(new URL('../../suites/fixtures/services.json', import.meta.url), 'utf8');
const cluster = readCluster(fixture, 'services.json');
const config = { nodeName: 'node', clusterCIDR: '10.244.0.0/16', nodeIPs: ['192.168.50.10'] };

test('every rule-writing mutant but one has an nftables-mode twin', () => {
  const missing = MUTANTS.filter((m) => !applies(m, 'nftables')).map((m) => m.name);
  expect(missing).toEqual(['nodeport-on-service-port']);
});

for (const version of KUBE_PROXY_VERSIONS)
  for (const m of MUTANTS.filter((x) => x.nftRules)) {
    test(`${m.name} (kube-proxy ${version}): the twin changes the table, and the model reads it`, () => {
      // node2 holds the Local Service's endpoint (its local- chain)
      const changed = ['node', 'node2'].filter((nodeName) => {
        const ref = compileNodeNft(cluster, { ...config, nodeName, kubeProxyVersion: version });
        const bad = m.nftRules!(ref);
        expect(() => parseNft(bad, { file: `${m.name}.nft` })).not.toThrow();
        return bad !== ref;
      });
      expect(changed.length).toBeGreaterThan(0);
    });
  }
