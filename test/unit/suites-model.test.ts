// Every suite case passes on the model (the kernel project runs them on the kernel too).
import { test, expect } from 'vitest';
import { loadCase, findCaseFiles } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';

for (const file of findCaseFiles()) {
  const c = loadCase(file);
  test(`suite on the model: ${c.name}`, async () => {
    const [r] = await runCases([c], { sides: 'model' });
    const misses = r!.steps.flatMap((s) => s.modelMisses.map((m) => `${s.label}: ${m}`));
    expect(misses).toEqual([]);
    expect(r!.model).toBe('pass');
  });
}

// ClientIP affinity in kube-proxy's nftables mode: its dynamic sets are in the model (spec/nft.md §8)
for (const file of findCaseFiles()) {
  const c = loadCase(file);
  if (!c.services || !c.tags?.includes('affinity')) continue;
  test(`affinity suite on the model in nftables mode: ${c.name}`, async () => {
    const [r] = await runCases([c], { sides: 'model', mode: 'nftables' });
    const misses = r!.steps.flatMap((s) => [...s.modelMisses, ...s.oracleMisses].map((m) => `${s.label}: ${m}`));
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
