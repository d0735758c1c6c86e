// The package as a user gets it: `npm pack` (whose `prepare` builds dist/) of a copy of this tree, installed
// into an empty folder with `npm install TARBALL` (its dependencies come from the npm registry). Then the
// installed CLI runs (`npx nfconform lint`, a suite on the model) and a consumer imports and type-checks
// the library's entry points. A copy, so that this tree's own dist/ is never half-written under other tests.
import { beforeAll, afterAll, test, expect } from 'vitest';
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import {
  cpSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOT_COPIED = new Set(['node_modules', 'dist', 'reports', '.git', 'scratch', 'out']);
let tmp = '';
let app = '';
let files: string[] = [];

function run(cmd: string, args: string[], cwd: string, opts: ExecFileSyncOptions = {}): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' },
      ...opts,
    }) as string;
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${x.status}\n${x.stdout}\n${x.stderr}`);
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nfc-pack-'));
  const copy = join(tmp, 'nfconform');
  cpSync(ROOT, copy, {
    recursive: true,
    filter: (src) => !NOT_COPIED.has(relative(ROOT, src).split('/')[0]!),
  });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp], copy)) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed[0]!.files.map((f) => f.path);
  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, packed[0]!.filename)], app);
}, 900_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the compiled package, its runtime files and no sources', () => {
  for (const f of [
    'bin/nfconform.js',
    'bin/dist-current.js',
    'dist/cli/main.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/arbitraries.d.ts',
    'spec/divergences.json',
    'package.json',
  ])
    expect(files).toContain(f);
  // the lab agent's programs (every file under src/ that tsc does not compile, but python3's bytecode cache) beside
  // the compiled lab
  const assets = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.ts') && !e.parentPath.includes('__pycache__'))
    .map((e) => `dist/${relative(join(ROOT, 'src'), join(e.parentPath, e.name))}`);
  expect(assets.length).toBeGreaterThan(1);
  for (const f of assets) expect(files).toContain(f);
  expect(files.some((f) => f.startsWith('suites/seed/'))).toBe(true);
  expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
});

test('npx nfconform lint prints the canonical form from the installed package', () => {
  const rules = join(app, 'rules.txt');
  writeFileSync(rules, 'iptables -A INPUT -s 10.0.0.1 -p tcp --dport 22 -j DROP\n');
  const out = run('npx', ['--no-install', 'nfconform', 'lint', rules], app);
  expect(out).toContain('-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j DROP');
  expect(run('npx', ['--no-install', 'nfconform', '--help'], app)).toContain('usage: nfconform lint');
});

test('the installed CLI runs its own suites on the model', () => {
  const out = run('npx', ['--no-install', 'nfconform', 'run', 'seed', '--sides', 'model'], app);
  expect(out).toMatch(/\b(\d+) cases: \1 passed, 0 failed/);
});

test('import { ... } from "nfconform" and its subpaths works, and a consumer type-checks', () => {
  const script = `
import { parseRuleset, printRuleset, compileTopology, k8sNode, makeLab, newWorld, runProbe } from 'nfconform';
import { renderPlain, readCluster, compileNode } from 'nfconform';
import { rulesetText, probeArb, topologyArb, serviceDrawArb } from 'nfconform/arbitraries';
import { KernelLab, labSkipReason } from 'nfconform/lab';
import { PairedLab, runCases } from 'nfconform/conform';
import fc from 'fast-check';
const rs = parseRuleset(
  '*nat\\n-A PREROUTING -d 10.96.0.100 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.11:8080\\nCOMMIT\\n',
);
const lab = makeLab(compileTopology(k8sNode()), new Map([['node', rs]]));
const [r] = runProbe(lab, newWorld(lab), { from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 80 });
const cluster = readCluster(JSON.stringify({ items: [] }));
console.log(JSON.stringify({
  outcome: r.value.observation.outcome,
  responder: r.value.observation.responder,
  traced: renderPlain.trace(r.value.trace).includes('NAT destination rewritten'),
  printed: printRuleset(rs).includes('--to-destination 10.244.1.11:8080'),
  compiled: compileNode(cluster, { nodeName: 'node' }).includes('*nat'),
  samples: [
    fc.sample(rulesetText(), 3).length,
    fc.sample(probeArb(), 3).length,
    fc.sample(topologyArb(), 3).length,
    fc.sample(serviceDrawArb, 3).length,
  ],
  lab: [typeof KernelLab, typeof labSkipReason, typeof PairedLab, typeof runCases],
}));
`;
  writeFileSync(join(app, 'use.ts'), script);
  writeFileSync(join(app, 'use.mjs'), script);
  const got = JSON.parse(run(process.execPath, ['use.mjs'], app)) as Record<string, unknown>;
  expect(got).toEqual({
    outcome: 'delivered',
    responder: 'pod1',
    traced: true,
    printed: true,
    compiled: true,
    samples: [3, 3, 3, 3],
    lab: ['function', 'function', 'function', 'function'],
  });
  // the shipped declarations: the same script type-checks as a consumer's TypeScript
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['use.ts'],
    }),
  );
  expect(existsSync(join(app, 'node_modules/nfconform/dist/index.d.ts'))).toBe(true);
  run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  expect(readFileSync(join(app, 'node_modules/nfconform/package.json'), 'utf8')).toContain('"exports"');
});
