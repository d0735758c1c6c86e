// Rules the model cannot evaluate against the real kernel (spec/semantics.md §10): where the model's result
// is indeterminate, the kernel's observation must be one of its possible results; that is an agreement of
// its own kind (counted as indeterminate), never a divergence and never a silent pass.
import { describe, test, expect, afterAll } from 'vitest';
import { loadCase } from '../../src/conform/case-file.ts';
import { runCases, LabPool } from '../../src/conform/run-case.ts';
import { skipReason, kernelDescribe } from './env.ts';

describe.skipIf(skipReason)(kernelDescribe('kernel: unmodelled modules and targets'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  for (const iptables of ['nft', 'legacy'] as const)
    test(`the kernel's outcome is one of the model's possible ones (iptables-${iptables})`, async () => {
      const c = loadCase('suites/unknown/unmodelled-rules.json');
      const [r] = await runCases([c], { sides: 'both', iptables, pool });
      if (!r) throw new Error('no report');
      expect(r.error ?? null).toBeNull();
      expect(r.steps.flatMap((s) => s.diffs)).toEqual([]);
      expect([r.model, r.kernel, r.agree]).toEqual(['pass', 'pass', 'pass']);
      // the three steps that hinge on an unknown rule are counted apart, each naming the kernel's outcome
      // and the rule that decides; the TTL target took a packet the model does not follow (its fate is unknown:
      // World.unfollowed), so the two steps after it are open too, and counted (they used to pass silently)
      expect(r.indeterminate).toBe(5);
      const [len, dscp, ttl, port22, icmp] = r.steps;
      expect(len!.indeterminate.join()).toMatch(/kernel's dropped is one of .*delivered or dropped.*length/);
      expect(dscp!.indeterminate.join()).toMatch(/kernel's dropped is one of .*dscp/);
      expect(ttl!.indeterminate.join()).toMatch(/kernel's delivered is one of .*target TTL/);
      expect(port22!.indeterminate.join()).toMatch(/kernel's refused is one of .*target TTL/);
      expect(icmp!.indeterminate.join()).toMatch(/kernel's echo-reply is one of .*target TTL/);
      expect(r.steps.map((s) => s.kernel[0]?.outcome)).toEqual([
        'dropped',
        'dropped',
        'delivered',
        'refused',
        'echo-reply',
      ]);
    });
});
