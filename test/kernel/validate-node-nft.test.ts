// validate of an nftables-mode dump on the kernel: the fixture loaded with `nft -f` in a lab built to match
// the node; the hand-broken copy fails there where it was broken (suites/fixtures/README.md).
import { describe, test, expect } from 'vitest';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';
import { skipReason, kernelDescribe } from './env.ts';
import { judgeNft } from '../../src/lab/nft-judge.ts';

describe.skipIf(skipReason)(kernelDescribe('kernel: validate an nftables-mode node dump'), () => {
  test('the fixture dump passes on the model and the kernel, every probed Service with probes', async () => {
    const r = await validateNode({ ...validateInput('node.nft'), sides: 'both' });
    expect(r.kernel).toBe('ran');
    expect(
      r.services
        .filter((s) => s.status !== 'pass')
        .map((s) => [s.service, s.status, s.failure?.kernelMiss ?? s.failure?.modelMiss ?? s.reason]),
    ).toEqual([]);
    expect(r.probes.filter((p) => p.kernel === 'pass').length).toBeGreaterThan(60);
    expect(r.probes.filter((p) => p.kernel === 'fail')).toEqual([]);
  });

  test("a node's own `nft list ruleset` and `nft -j list ruleset` of the fixture validate alike", async () => {
    const [v] = await judgeNft([validateInput('node.nft').rulesetText], { json: true });
    expect(v!.ok).toBe(true);
    for (const text of [v!.listing, v!.json!]) {
      const r = await validateNode({ ...validateInput('node.nft'), rulesetText: text, sides: 'model' });
      expect(r.services.filter((s) => s.status !== 'pass').map((s) => s.service)).toEqual([]);
      expect(r.settings.proxyMode).toBe('nftables');
      expect(r.sent).toBeGreaterThan(60);
    }
  });

  test('the hand-broken copy fails on the kernel where it was broken', async () => {
    const r = await validateNode({ ...validateInput('node-broken.nft'), sides: 'kernel' });
    const failed = r.services.filter((s) => s.status === 'fail');
    expect(failed.map((s) => s.service)).toEqual(['default/web', 'default/itl']);
    expect(failed[0]!.failure!.kernelMiss).toMatch(/kernel: refused/);
    expect(failed[1]!.failure!.kernelMiss).toMatch(/kernel: refused .* the Services say: dropped/);
    expect(r.warnings.length).toBe(5);
  });
});
