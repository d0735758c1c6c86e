// The tree is formatted with prettier (.prettierrc.json: width 120); .prettierignore lists what is not.
import { test, expect } from 'vitest';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

test('prettier --check passes over the tree', async () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const r = await execa(process.execPath, [`${root}node_modules/prettier/bin/prettier.cjs`, '--check', '.'], {
    cwd: root,
    reject: false,
  });
  // prettier names each unformatted file on stderr ("[warn] path")
  expect(r.stderr.split('\n').filter((l) => l.startsWith('[warn]') && !/Code style issues/.test(l))).toEqual([]);
  expect(r.exitCode).toBe(0);
});
