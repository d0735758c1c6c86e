// `npm run build`: the CLI and the library as JavaScript in dist/ (tsc rewrites the sources' `.ts` import
// specifiers to `.js`), the non-TypeScript files of src/ (the lab agent's .mjs and .py) copied beside them,
// and dist/.build-stamp last: bin/nfconform.js runs dist/ only when that stamp is newer than every file
// under src/. Plain JavaScript, so that it runs before anything is built.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
} catch {
  process.stderr.write(
    'build: tsc failed (see above); dist/ is incomplete and bin/nfconform.js will run the sources\n',
  );
  process.exit(1);
}
for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!e.isFile() || e.name.endsWith('.ts') || e.parentPath.includes('__pycache__')) continue;
  const from = join(e.parentPath, e.name);
  const to = join(dist, from.slice(src.length));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { preserveTimestamps: true });
}
writeFileSync(join(dist, '.build-stamp'), `${new Date().toISOString()}\n`);
