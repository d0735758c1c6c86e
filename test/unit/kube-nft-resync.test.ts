// A resync in nftables mode told what the node holds (compile-nft.ts staleCommands), as kube-proxy's sync does
// (pkg/proxy/nftables/proxier.go syncProxyRules): a per-Service chain no Service uses is emptied, and deleted at
// the next resync; an affinity set of an endpoint that went away is deleted at once. The same sequence on the
// kernel: test/kernel/kube-nft.test.ts.
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { SUITES_DIR } from '../../src/conform/case-file.ts';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNodeNft, nftNodeState } from '../../src/kube/compile-nft.ts';
import { parseNft, type NftRuleset } from '../../src/model/index.ts';

const cluster = (f: string) => readCluster(readFileSync(`${SUITES_DIR}fixtures/${f}`, 'utf8'), f);
const config = { nodeName: 'node', clusterCIDR: '10.244.0.0/16' };
const three = cluster('affinity-three-endpoints.json');
const one = cluster('affinity-one-endpoint.json');

/** compile for the node as it is, and apply: the new state and the text */
const sync = (c: ReturnType<typeof cluster>, state?: NftRuleset) => {
  const text = compileNodeNft(c, config, state ? nftNodeState(state) : undefined);
  return { text, state: parseNft(text, { file: 'sync.nft', ...(state ? { base: state } : {}) }) };
};
const table = (rs: NftRuleset) => rs.tables.get('ip kube-proxy')!;
const endpointChains = (rs: NftRuleset) => [...table(rs).chains.values()].filter((c) => c.name.startsWith('endpoint-'));
const affinitySets = (rs: NftRuleset) => [...table(rs).sets.keys()].filter((n) => n.startsWith('affinity-'));

describe('nftables-mode resync told what the node holds', () => {
  test('two endpoints go: their chains are emptied, then deleted at the next resync; their sets at once', () => {
    const a = sync(three);
    expect(endpointChains(a.state).length).toBe(3);
    // an affinity endpoint chain's rules: update the set, DNAT (and before 1.36 the hairpin mark)
    const n = endpointChains(a.state)[0]!.rules.length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(affinitySets(a.state).length).toBe(3);
    const b = sync(one, a.state);
    // kube-proxy flushes a stale chain and deletes it a sync later (kernels before 6.2 see late that nothing
    // reaches it); the affinity sets go in the same transaction
    expect(b.text).not.toMatch(/^delete chain/m);
    expect(b.text.match(/^delete set ip kube-proxy affinity-\S+$/gm)?.length).toBe(2);
    expect(
      endpointChains(b.state)
        .map((c) => c.rules.length)
        .sort(),
    ).toEqual([0, 0, n]);
    expect(affinitySets(b.state).length).toBe(1);
    const c = sync(one, b.state);
    expect(c.text.match(/^delete chain ip kube-proxy endpoint-\S+$/gm)?.length).toBe(2);
    expect(endpointChains(c.state).map((x) => x.rules.length)).toEqual([n]);
    // a steady state: nothing more to delete
    expect(sync(one, c.state).text).not.toMatch(/^delete /m);
  });

  test('without the node state, nothing is deleted (a first sync, or a caller that does not say)', () => {
    const a = sync(three);
    const text = compileNodeNft(one, config);
    expect(text).not.toMatch(/^delete /m);
    expect(endpointChains(parseNft(text, { file: 'x.nft', base: a.state })).length).toBe(3);
  });

  test('chains and sets that are not per-Service are never deleted', () => {
    const a = sync(one);
    const state = nftNodeState(a.state)!;
    const text = compileNodeNft(one, config, {
      chains: [...state.chains, { name: 'my-chain', rules: 0 }, { name: 'services', rules: 0 }],
      sets: [...state.sets, 'my-set'],
    });
    expect(text).not.toMatch(/^delete /m);
  });
});
