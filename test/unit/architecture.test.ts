// The layers are executable (README "Layout"): model <- kube, lab; then conform; then cli. No layer imports
// one above it or a sibling (kube and lab know nothing of each other), and outside src/model/ the model is
// reached only through src/model/index.ts, its public surface.
import { test, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const RANK: Record<string, number> = { model: 0, kube: 1, lab: 1, conform: 2, cli: 3 };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mts)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Every relative module a file imports or re-exports (static or dynamic). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)) out.push(m[1]!);
  return out;
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0]!;

export function violations(): string[] {
  const out: string[] = [];
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    if (!(from in RANK)) continue; // src/index.ts: the library surface may re-export any layer
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const to = layerOf(target);
      const where = `${relative(SRC, file)} imports ${spec}`;
      if (!(to in RANK)) continue;
      if (to !== from && RANK[to]! >= RANK[from]!) out.push(`${where}: ${to} is not below ${from}`);
      if (to === 'model' && from !== 'model' && relative(SRC, target) !== 'model/index.ts')
        out.push(`${where}: outside the model, import src/model/index.ts`);
    }
  }
  return out;
}

test('the import scanner sees static, type-only, re-export and dynamic imports', () => {
  const text =
    `import { a } from '../model/ip.ts';\nimport type { B } from './b.ts';\nexport { c } from` +
    ` '../lab/c.ts';\nconst d = await import('../cli/d.ts');\nimport` +
    ` '../kube/side-effect.ts';\nimport {\n  e,\n} from '../conform/e.ts';`;
  expect(importsOf(text)).toEqual([
    '../model/ip.ts',
    './b.ts',
    '../lab/c.ts',
    '../cli/d.ts',
    '../kube/side-effect.ts',
    '../conform/e.ts',
  ]);
});

test('no upward or sideways import between model, kube, lab, conform and cli; the model only via its index', () => {
  expect(sources(SRC).length).toBeGreaterThan(40);
  expect(violations()).toEqual([]);
});
