// Every suite case passes on the model (the kernel project runs them on the kernel too).
import { test, expect } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCase } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';

const root = fileURLToPath(new URL('../../suites/', import.meta.url));
const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.json') ? [join(dir, n)] : []));

for (const file of files(root)) {
  const c = loadCase(file);
  test(`suite on the model: ${c.name}`, async () => {
    const [r] = await runCases([c], { backends: 'model' });
    const misses = r!.steps.flatMap((s) => s.modelMisses.map((m) => `${s.label}: ${m}`));
    expect(misses).toEqual([]);
    expect(r!.model).toBe('pass');
  });
}

test('there is a suite for each seed claim C1-C21', () => {
  const ids = new Set(files(root).map((f) => loadCase(f).claim?.id).filter(Boolean));
  expect([...ids].sort((a, b) => Number(a!.slice(1)) - Number(b!.slice(1)))).toEqual(Array.from({ length: 21 }, (_, i) => `C${i + 1}`));
});
