// `nfconform lint` on nft files: the language read off the content (or --lang), the canonical
// `nft list ruleset` form, or every error as file:line:col with exit 2.
import { test, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nfc-nftlint-'));

function cli(args: string[]): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, out, err: '' };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout, err: x.stderr };
  }
}

test('an nft file prints as nft lists it', () => {
  const f = fileURLToPath(new URL('../fixtures/nft/kube-proxy.nft', import.meta.url));
  const r = cli(['lint', f]);
  expect(r.code).toBe(0);
  expect(r.out).toBe(readFileSync(f.replace(/\.nft$/, '.list'), 'utf8'));
});

test('every refused command is reported, each with file:line:col; exit 2, no stack trace', () => {
  const f = join(dir, 'bad.nft');
  writeFileSync(f, 'table ip t {\n chain c {\n  jump nosuch\n  ip saddr @nos accept\n }\n}\n');
  const r = cli(['lint', f]);
  expect(r.code).toBe(2);
  expect(r.err).toContain(`${f}:3:3: jump to chain nosuch, which does not exist`);
  expect(r.err).toContain(`${f}:4:3: no set or map nos`);
  expect(r.err).not.toMatch(/\n\s+at /);
});

test('outside the subset: read around with a warning (as for iptables), exit 2 with --strict', () => {
  const f = join(dir, 'limit.nft');
  writeFileSync(f, 'table ip t {\n chain c {\n  limit rate 5/second accept\n }\n}\n');
  const strict = cli(['lint', '--strict', f]);
  expect(strict.code).toBe(2);
  expect(strict.err).toContain(`${f}:3:3: unsupported:`);
  // the opaque rest of the rule prints as written (spec/nft.md §3a); the warning names it
  const r = execFileSync(process.execPath, [BIN, 'lint', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(r).toContain('limit rate 5/second accept');
  const both = spawnSync(process.execPath, [BIN, 'lint', f], { encoding: 'utf8' });
  expect(both.status).toBe(0);
  expect(both.stderr).toContain(`nfconform lint: warning: ${f}:3:3: unsupported:`);
});

test('--lang nft reads a file that does not look like nft as nft', () => {
  const f = join(dir, 'odd.txt');
  writeFileSync(f, '\n# only a comment\n');
  const r = cli(['lint', '--lang', 'nft', f]);
  expect(r.code).toBe(0);
  expect(r.out.trim()).toBe('');
  expect(cli(['lint', '--lang', 'pf', f]).code).toBe(2);
});
