// The tree is formatted with prettier (.prettierrc.json: width 120); .prettierignore lists what is not.
import { test, expect } from 'vitest';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

test('prettier --check passes over the tree', async () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const r = await execa(process.execPath, [`${root}node_modules/prettier/bin/prettier.cjs`, '--check', '.'], {
    cwd: root,
    reject: false,
  });
  // prettier names each unformatted file on stderr ("[warn] path")
  expect(r.stderr.split('\n').filter((l) => l.startsWith('[warn]') && !/Code style issues/.test(l))).toEqual([]);
  expect(r.exitCode).toBe(0);
  // prettier over the whole tree: ~10 s alone, about a minute under load
}, 900_000);

test('no source line is over 120 columns (prettier cannot break strings and comments: they are split by hand)', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : /\.(ts|mts|mjs|js)$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  const long: string[] = [];
  for (const dir of ['src', 'test', 'scripts', 'bench', 'bin', 'examples'].filter((d) => existsSync(join(root, d))))
    for (const file of walk(dir))
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if ([...line].length > 120) long.push(`${file}:${i + 1} (${[...line].length} columns)`);
        });
  expect(long).toEqual([]);
});
