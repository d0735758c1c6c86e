// validate on the kernel: the fixture dump replayed in a lab built to match the node.
import { describe, test, expect } from 'vitest';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';
import { skipReason, kernelDescribe } from './env.ts';

describe.skipIf(skipReason)(kernelDescribe('kernel: validate a node dump'), () => {
  for (const iptables of ['nft', 'legacy'] as const) {
    test(`the fixture dump passes on the model and the kernel (iptables-${iptables})`, async () => {
      const r = await validateNode({ ...validateInput('node.iptables-save'), sides: 'both', iptables });
      expect(r.kernel).toBe('ran');
      expect(
        r.services
          .filter((s) => s.status !== 'pass')
          .map((s) => [s.service, s.failure?.kernelMiss ?? s.failure?.modelMiss]),
      ).toEqual([]);
    });
  }

  test('the hand-broken copy fails on the kernel too', async () => {
    const r = await validateNode({ ...validateInput('node-broken.iptables-save'), sides: 'kernel' });
    const empty = r.services.find((s) => s.service === 'default/empty')!;
    expect(empty.status).toBe('fail');
    expect(empty.failure!.kernelMiss).toMatch(/kernel: delivered upstream .* the Services say: refused/);
    // the rules the probe moved are part of the explanation
    expect(empty.failure!.kernel!.rulesHit!.length).toBeGreaterThan(0);
    // lb2's hashlimit rule RETURNs below the rate before any endpoint is picked: the ClusterIP packet leaves
    // the node un-NATed
    const lb2 = r.services.find((s) => s.service === 'default/lb2')!;
    expect(lb2.status).toBe('fail');
    expect(lb2.failure!.kernelMiss).toMatch(/kernel: delivered upstream .* the Services say: delivered ep2/);
  });

  test("model and kernel agree on lb2's rate limit: a fresh bucket lets the first packets through", async () => {
    // spec/modules.md: a bucket starts full, so while it has tokens -m hashlimit --hashlimit-upto matches (nat
    // meets only a connection's first packet, each of which the model follows)
    const r = await validateNode({ ...validateInput('node-broken.iptables-save'), sides: 'both' });
    expect(r.kernel).toBe('ran');
    const lb2 = r.services.find((s) => s.service === 'default/lb2')!;
    expect(lb2.status).toBe('fail');
    expect(lb2.failure!.modelMiss).toMatch(/model: delivered upstream .* the Services say: delivered ep2/);
    expect(lb2.failure!.kernelMiss).toMatch(/kernel: delivered upstream .* the Services say: delivered ep2/);
    expect(r.unsupported).toEqual([]);
  });
});
