// validate of an nftables-mode dump on the kernel: the fixture loaded with `nft -f` in a lab built to match
// the node; the hand-broken copy fails there where it was broken (suites/fixtures/README.md).
import { describe, test, expect } from 'vitest';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';
import { skipReason, kernelDescribe } from './env.ts';

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

  test('the hand-broken copy fails on the kernel where it was broken', async () => {
    const r = await validateNode({ ...validateInput('node-broken.nft'), sides: 'kernel' });
    const failed = r.services.filter((s) => s.status === 'fail');
    expect(failed.map((s) => s.service)).toEqual(['default/web', 'default/itl']);
    expect(failed[0]!.failure!.kernelMiss).toMatch(/kernel: refused/);
    expect(failed[1]!.failure!.kernelMiss).toMatch(/kernel: refused .* the Services say: dropped/);
    expect(r.warnings.length).toBe(5);
  });
});
