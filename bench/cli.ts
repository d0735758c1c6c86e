// Whole-process start-up of the CLI against a bare `node -e 0` (issue 15 §3): `--help` and `lint` of a small
// ruleset, run as a user runs them (node bin/nfconform.js). The three commands take turns, so a busy
// machine slows each alike; each figure is the median wall time of its runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Figure } from './model.ts';
import { distIsCurrent } from '../bin/dist-current.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin/nfconform.js');

const SMALL_RULESET = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -s 10.244.0.0/16 -j ACCEPT
COMMIT
`;

function wallMs(argv: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`bench cli: node ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Which code bin/nfconform.js runs now. */
const mode = (): string => (distIsCurrent(ROOT) ? 'dist/' : 'sources through tsx: dist/ is missing or older than src/');

export function benchCli(rounds = Number(process.env.BENCH_CLI_ROUNDS ?? 15)): Figure[] {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-bench-cli-'));
  const rules = join(dir, 'small.rules');
  writeFileSync(rules, SMALL_RULESET);
  const env = { ...process.env, NO_COLOR: '1' };
  const runs = {
    node: ['-e', '0'],
    help: [BIN, '--help'],
    lint: [BIN, 'lint', rules],
  } as const;
  const fromSource = { ...env, NFCONFORM_SOURCE: '1' };
  const t: Record<'node' | 'help' | 'lint' | 'helpSrc' | 'lintSrc', number[]> = {
    node: [],
    help: [],
    lint: [],
    helpSrc: [],
    lintSrc: [],
  };
  try {
    wallMs([...runs.lint], env); // warm the file cache
    for (let i = 0; i < rounds; i++) {
      t.node.push(wallMs([...runs.node], env));
      t.help.push(wallMs([...runs.help], env));
      t.lint.push(wallMs([...runs.lint], env));
      if (i < 3) {
        t.helpSrc.push(wallMs([...runs.help], fromSource));
        t.lintSrc.push(wallMs([...runs.lint], fromSource));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(t.node);
  const ratio = (xs: number[]) => Math.round((median(xs) / base) * 100) / 100;
  return [
    { name: `node -e 0 (median of ${rounds}, ms)`, value: Math.round(base), unit: 'ms' },
    { name: `nfconform --help / node -e 0 (${mode()})`, value: ratio(t.help), unit: 'x', goal: '<= 2' },
    { name: `nfconform lint SMALL / node -e 0 (${mode()})`, value: ratio(t.lint), unit: 'x', goal: '<= 3' },
    {
      name: 'nfconform --help / node -e 0, sources through tsx (NFCONFORM_SOURCE=1)',
      value: ratio(t.helpSrc),
      unit: 'x',
    },
    { name: 'nfconform lint SMALL / node -e 0, sources through tsx', value: ratio(t.lintSrc), unit: 'x' },
  ];
}
