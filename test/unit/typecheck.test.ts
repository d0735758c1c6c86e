// The whole project type-checks under the strict tsconfig (tsx runs the sources without checking types).
import { test, expect } from 'vitest';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

test('tsc --noEmit passes', async () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const r = await execa(
    process.execPath,
    [`${root}node_modules/typescript/bin/tsc`, '--noEmit', '-p', `${root}tsconfig.json`],
    { reject: false },
  );
  expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
  expect(r.exitCode).toBe(0);
  // tsc over the whole tree: ~25 s alone, several minutes on a machine loaded to 30 (issue #11)
}, 900_000);
