// Every suite case passes on the model (the kernel project runs them on the kernel too).
import { test, expect } from 'vitest';
import { loadCase, findCaseFiles } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { KUBE_PROXY_VERSIONS } from '../../src/kube/kube-proxy-version.ts';

for (const file of findCaseFiles()) {
  const c = loadCase(file);
  test(`suite on the model: ${c.name}`, async () => {
    const [r] = await runCases([c], { sides: 'model' });
    const misses = r!.steps.flatMap((s) => s.modelMisses.map((m) => `${s.label}: ${m}`));
    expect(misses).toEqual([]);
    expect(r!.model).toBe('pass');
  });
}

// every Service suite in kube-proxy's nftables mode, in the shape of each release the compiler writes
// (kube-proxy-version.ts): judged by its expectations (`expectNftables` where the modes differ) and the oracle;
// ClientIP affinity's dynamic sets and 1.36's numgen-keyed DNAT maps are in the model (spec/nft.md)
for (const kubeProxyVersion of KUBE_PROXY_VERSIONS)
  for (const file of findCaseFiles()) {
    const c = loadCase(file);
    if (!c.services) continue;
    test(`Service suite on the model in nftables mode (kube-proxy ${kubeProxyVersion}): ${c.name}`, async () => {
      const [r] = await runCases([c], { sides: 'model', mode: 'nftables', kubeProxyVersion });
      const misses = r!.steps.flatMap((s) => [...s.modelMisses, ...s.oracleMisses].map((m) => `${s.label}: ${m}`));
      expect(r!.error ?? null).toBeNull();
      expect(misses).toEqual([]);
      expect(r!.model).toBe('pass');
    });
  }

test('there is a suite for each seed claim C1-C21', () => {
  const ids = new Set(
    findCaseFiles()
      .map((f) => loadCase(f).claim?.id)
      .filter(Boolean),
  );
  expect([...ids].sort((a, b) => Number(a!.slice(1)) - Number(b!.slice(1)))).toEqual(
    Array.from({ length: 21 }, (_, i) => `C${i + 1}`),
  );
});
