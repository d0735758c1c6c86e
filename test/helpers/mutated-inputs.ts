// Mutated inputs of every kind nfconform reads (rulesets, iptables command scripts, case files,
// topologies, Services JSON, command lines), thrown at the loaders in-process through the same
// entries the CLI uses. Each must end in a valid result or an input error with a location (the
// CLI's exit 0 or 2), never anything else (exit 3, an internal error). Used by
// test/unit/mutated-inputs.test.ts (a bounded number) and scripts/fuzz-inputs.ts (as many as asked).
import { mkdirSync, readFileSync, writeFileSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInputError, parseRuleset } from '../../src/model/index.ts';
import { readCase, findCaseFiles, SUITES_DIR } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { readCluster } from '../../src/kube/objects.ts';
import { loadTopologySpec } from '../../src/cli/load.ts';
import { main } from '../../src/cli/cli.ts';

/** mulberry32: small, seeded, reproducible */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const NASTY_STRINGS = [
  '',
  ' ',
  'eth0\nnetns add x',
  '\u001b[31m',
  '../../../../etc/passwd',
  '/etc/shadow',
  '/dev/zero',
  '/proc/self/environ',
  '/',
  '__proto__',
  'constructor',
  'toString',
  'x'.repeat(5000),
  '10.0.0.1/33',
  '10.0.0.256',
  '::/0',
  '-j ACCEPT',
  '"',
  '%d',
  'all',
  'eth0.100',
  '0.0.0.0/0',
  'default',
  'k8s-node',
  'tcp',
  'icmp',
  'legacy',
];
const NASTY_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1,
  65535,
  65536,
  1e308,
  0.5,
  2 ** 53,
  [],
  {},
  [null],
  { a: 1 },
  ...NASTY_STRINGS,
];
const CHARS = [
  '\n',
  '\r',
  '\0',
  '\u001b',
  '"',
  "'",
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  ' ',
  '#',
  '-',
  '/',
  'x',
  '9',
  '.',
];

/** Byte-level damage: deletions, duplications, insertions, truncation. */
function mutateText(r: Rand, text: string): string {
  let s = text;
  const n = r() < 0.7 ? 1 : 2;
  for (let k = 0; k < n; k++) {
    const i = Math.floor(r() * (s.length + 1));
    const j = Math.min(s.length, i + Math.floor(r() * 40));
    switch (Math.floor(r() * 6)) {
      case 0:
        s = s.slice(0, i) + s.slice(j);
        break;
      case 1:
        s = s.slice(0, j) + s.slice(i, j) + s.slice(j);
        break;
      case 2:
        s = s.slice(0, i) + pick(r, CHARS) + s.slice(i);
        break;
      case 3:
        s = s.slice(0, i);
        break;
      case 4:
        s = s.slice(0, i) + pick(r, NASTY_STRINGS) + s.slice(i);
        break;
      default: {
        // swap two lines
        const lines = s.split('\n');
        const a = Math.floor(r() * lines.length);
        const b = Math.floor(r() * lines.length);
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        s = lines.join('\n');
      }
    }
  }
  return s;
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Structural damage to a JSON value: a node replaced, removed, added to, or nested very deep. */
function mutateJson(r: Rand, text: string): string {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return mutateText(r, text);
  }
  const n = r() < 0.7 ? 1 : 2;
  for (let k = 0; k < n; k++) {
    // walk to a random node
    const path: (string | number)[] = [];
    let parent: unknown = undefined;
    let node: unknown = root;
    while (typeof node === 'object' && node !== null && r() < 0.75) {
      const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (!keys.length) break;
      const key = pick(r, keys as (string | number)[]);
      parent = node;
      path.push(key);
      node = (node as Record<string | number, unknown>)[key];
    }
    const choice = Math.floor(r() * 5);
    const replacement = choice === 4 ? nested(100 + Math.floor(r() * 2000)) : structuredClone(pick(r, NASTY_VALUES));
    if (parent === undefined) {
      root = choice === 0 ? [root] : replacement;
      continue;
    }
    const p = parent as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    if (choice === 1) {
      if (Array.isArray(p)) p.splice(Number(key), 1);
      else delete p[key];
    } else if (choice === 2 && !Array.isArray(p))
      // an own property even for "__proto__", as JSON.parse makes it
      Object.defineProperty(p, pick(r, ['extra', '__proto__', 'constructor', 'hosts', 'x']), {
        value: replacement,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else Object.defineProperty(p, key, { value: replacement, enumerable: true, writable: true, configurable: true });
  }
  try {
    return JSON.stringify(root);
  } catch {
    return mutateText(r, text); // too deep to print: damage the text instead
  }
}

export interface Outcome {
  /** the CLI's exit code for it: 0 valid, 2 input error, 3 anything else */
  code: 0 | 1 | 2 | 3;
  /** an input error without a file to name */
  unlocated?: boolean;
  message?: string;
}

function outcomeOf(e: unknown): Outcome {
  if (isInputError(e)) {
    const located = e.pos !== undefined && e.pos.file !== '' && (e.pos.line > 0 || e.pos.jsonPath !== undefined);
    return { code: 2, ...(located ? {} : { unlocated: true }), message: e.message };
  }
  return { code: 3, message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

export interface Kind {
  name: string;
  seeds: string[];
  mutate: (r: Rand, text: string) => string;
  run: (text: string, n: number) => Promise<Outcome>;
}

function suiteCaseTexts(): string[] {
  return findCaseFiles(SUITES_DIR).map((f) => readFileSync(f, 'utf8'));
}

export function kinds(): Kind[] {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-mutated-'));
  const cases = join(dir, 'cases');
  const fixtures = join(dir, 'fixtures');
  mkdirSync(cases);
  mkdirSync(fixtures);
  for (const f of [
    'services.json',
    'endpoint-before.json',
    'endpoint-after.json',
    'headless-externalname.json',
    'node.iptables-save',
  ])
    copyFileSync(join(SUITES_DIR, 'fixtures', f), join(fixtures, f));
  const fx = (f: string) => readFileSync(new URL(`../fixtures/${f}`, import.meta.url), 'utf8');
  const saves = [
    fx('iptables-nft-save-1.8.9.txt'),
    fx('iptables-legacy-save-1.8.9.txt'),
    readFileSync(join(fixtures, 'node.iptables-save'), 'utf8'),
  ];
  const caseTexts = suiteCaseTexts();
  const commandScripts = caseTexts.flatMap((t) => {
    const c = JSON.parse(t) as { hosts?: Record<string, { ruleset?: string | string[] }> };
    return Object.values(c.hosts ?? {})
      .map((h) => h.ruleset)
      .filter((x): x is string[] => Array.isArray(x))
      .map((x) => x.join('\n') + '\n');
  });
  const topologies = caseTexts
    .map((t) => (JSON.parse(t) as { topology: unknown }).topology)
    .filter((t) => typeof t === 'object')
    .map((t) => JSON.stringify(t));
  const k8s = JSON.stringify((JSON.parse(caseTexts[0]!) as { topology: unknown }).topology);
  topologies.push(k8s === '"k8s-node"' ? JSON.stringify({ name: 'x', hosts: [{ name: 'a', ifaces: [] }] }) : k8s);
  const services = ['services.json', 'endpoint-before.json', 'headless-externalname.json'].map((f) =>
    readFileSync(join(fixtures, f), 'utf8'),
  );
  const ruleFile = join(dir, 'rules.txt');
  writeFileSync(ruleFile, saves[2]!);
  const okCase = join(cases, 'ok.json');
  writeFileSync(okCase, caseTexts.find((t) => !t.includes('"services"')) ?? caseTexts[0]!);

  const guard = async (f: () => unknown): Promise<Outcome> => {
    try {
      await f();
      return { code: 0 };
    } catch (e) {
      return outcomeOf(e);
    }
  };
  const quiet = { out: () => undefined, err: () => undefined };
  const commandLines = [
    ['lint', ruleFile],
    ['lint', ruleFile, '--iptables', 'legacy'],
    ['compile', '--services', join(fixtures, 'services.json'), '--node', 'node', '--cluster-cidr', '10.244.0.0/16'],
    ['trace', '--ruleset', `node=${ruleFile}`, '--from', 'pod2', 'tcp', '10.96.0.100:80'],
    ['trace', '--topology', 'k8s-node', '--from', 'client', 'icmp', '192.168.50.10', '--json'],
    ['check', okCase, '--sides', 'model'],
  ].map((a) => a.join('\u0000'));
  // nothing that starts a lab, runs a command or writes a file
  const FORBIDDEN = new RegExp(
    '^(--kernel|--junit|--json=|--runtime|--backend|--sides|--impl|--out|--replay|--cleanup' +
      '|lab|doctor|fuzz|run|validate|kernel|both|netns|docker)$',
  );

  return [
    {
      name: 'ruleset',
      seeds: saves,
      mutate: mutateText,
      run: (text) => guard(() => parseRuleset(text, { file: 'rules' })),
    },
    {
      name: 'command script',
      seeds: commandScripts,
      mutate: mutateText,
      run: (text) => guard(() => parseRuleset(text, { file: 'script' })),
    },
    {
      name: 'case file',
      seeds: caseTexts,
      mutate: (r, t) => (r() < 0.5 ? mutateJson(r, t) : mutateText(r, t)),
      run: async (text, n) => {
        const f = join(cases, `c${n}.json`);
        writeFileSync(f, text);
        let c;
        try {
          c = readCase(f, { allowPaths: [dir] });
        } catch (e) {
          return outcomeOf(e);
        }
        // a valid case also runs on the model: a broken case must never get this far
        try {
          const [rep] = await runCases([c], { sides: 'model' });
          if (rep?.error) return { code: 3, message: `a loaded case failed to run: ${rep.error}` };
          return { code: rep && [rep.model, rep.oracle].includes('fail') ? 1 : 0 };
        } catch (e) {
          return outcomeOf(e);
        }
      },
    },
    {
      name: 'topology',
      seeds: topologies,
      mutate: (r, t) => (r() < 0.6 ? mutateJson(r, t) : mutateText(r, t)),
      run: (text, n) => {
        const f = join(dir, `t${n}.json`);
        writeFileSync(f, text);
        return guard(() => loadTopologySpec(f));
      },
    },
    {
      name: 'Services JSON',
      seeds: services,
      mutate: (r, t) => (r() < 0.6 ? mutateJson(r, t) : mutateText(r, t)),
      run: (text) =>
        guard(() => {
          readCluster(text, 'services.json');
          readCluster(text, 'services.json', { strict: true });
        }),
    },
    {
      name: 'command line',
      seeds: commandLines,
      mutate: (r, t) => {
        const args = t.split('\u0000');
        const n = 1 + Math.floor(r() * 2);
        for (let k = 0; k < n; k++) {
          const i = Math.floor(r() * args.length);
          const op = Math.floor(r() * 4);
          if (op === 0 && args.length > 1) args.splice(i, 1);
          else if (op === 1)
            args.splice(
              i,
              0,
              pick(r, [
                ...NASTY_STRINGS,
                '--from',
                '--topology',
                '--ruleset',
                '--src',
                '--sport',
                '--node',
                'node=/etc/passwd',
                '10.96.0.100:80:90',
                '--json',
                '-h',
              ]),
            );
          else if (op === 2) args[i] = mutateText(r, args[i]!);
          else args.push(pick(r, NASTY_STRINGS));
        }
        return args.join('\u0000');
      },
      run: async (text) => {
        const args = text.split('\u0000');
        if (args.some((a) => FORBIDDEN.test(a) || a.includes('\0'))) return { code: 0, message: 'skipped' };
        if (args[0] === 'check') args.push('--sides', 'model');
        let err = '';
        const code = await main(args, { ...quiet, err: (s) => (err += s) });
        return code === 3 ? { code: 3, message: err } : { code: code as 0 | 1 | 2 };
      },
    },
  ];
}

export interface KindStats {
  inputs: number;
  codes: Record<string, number>;
  worstMs: number;
  skipped: number;
}

export interface FuzzReport {
  seed: number;
  kinds: Record<string, KindStats>;
  /** exit 3, or an input error without a location */
  failures: { kind: string; input: string; message: string }[];
  /** inputs over the time limit */
  slow: { kind: string; ms: number; input: string }[];
  peakRssMb: number;
  baseRssMb: number;
}

/** `perKind` mutated inputs of each kind, from `seed`. */
export async function fuzzInputs(perKind: number, seed: number, limitMs = 5000): Promise<FuzzReport> {
  const r = rng(seed);
  const mb = () => process.memoryUsage().rss / 2 ** 20;
  const report: FuzzReport = { seed, kinds: {}, failures: [], slow: [], peakRssMb: mb(), baseRssMb: mb() };
  let n = 0;
  for (const k of kinds()) {
    const st: KindStats = { inputs: 0, codes: {}, worstMs: 0, skipped: 0 };
    report.kinds[k.name] = st;
    for (let i = 0; i < perKind; i++) {
      const input = k.mutate(r, pick(r, k.seeds));
      const t0 = performance.now();
      const o = await k.run(input, n++);
      const ms = performance.now() - t0;
      if (o.message === 'skipped') {
        st.skipped++;
        continue;
      }
      st.inputs++;
      st.codes[o.code] = (st.codes[o.code] ?? 0) + 1;
      st.worstMs = Math.max(st.worstMs, ms);
      report.peakRssMb = Math.max(report.peakRssMb, mb());
      if (ms > limitMs) report.slow.push({ kind: k.name, ms, input: input.slice(0, 2000) });
      if (o.code === 3 || o.unlocated)
        report.failures.push({
          kind: k.name,
          input: input.slice(0, 200_000),
          message: (o.message ?? '').slice(0, 4000),
        });
    }
  }
  return report;
}
