// A case file reads only files below its own folder (or one allowed with --allow-path); no
// symlink leads out, no device, directory or fifo is read, and no message repeats a file's content.
import { test, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/cli.ts';

const top = mkdtempSync(join(tmpdir(), 'nfc-paths-'));
const caseDir = join(top, 'cases');
const outside = join(top, 'outside');
mkdirSync(caseDir);
mkdirSync(outside);
const SECRET = 'SECRET-CONTENT-1234';
writeFileSync(join(outside, 'secret.rules'), `*filter\n-A INPUT -j ${SECRET}\nCOMMIT\n`);
writeFileSync(join(caseDir, 'ok.rules'), '*filter\n-A INPUT -s 10.0.0.1 -j DROP\nCOMMIT\n');
symlinkSync(join(outside, 'secret.rules'), join(caseDir, 'link.rules'));
mkdirSync(join(caseDir, 'adir'));
execFileSync('mkfifo', [join(caseDir, 'fifo')]);

async function check(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const caseWith = (name: string, host: Record<string, unknown>) => {
  const f = join(caseDir, `${name}.json`);
  writeFileSync(
    f,
    JSON.stringify({
      name,
      topology: 'k8s-node',
      hosts: { node: host },
      steps: [{ from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080 }],
    }),
  );
  return f;
};

const refused: [string, string, RegExp][] = [
  ['absolute', '/etc/shadow', /outside the case file's folder/],
  ['parent', '../outside/secret.rules', /outside the case file's folder/],
  ['far parent', '../../../../../../etc/passwd', /outside the case file's folder/],
  ['symlink out', 'link.rules', /outside the case file's folder/],
  ['proc', '/proc/self/environ', /outside the case file's folder/],
  ['device', '/dev/zero', /outside the case file's folder/],
  ['directory', 'adir', /is a directory/],
  ['fifo', 'fifo', /not a regular file/],
  ['missing', 'nope.rules', /file not found/],
];

for (const [what, ref, why] of refused) {
  test(`rulesetFile: ${what} (${ref}) is refused with exit 2, naming the field, not the content`, async () => {
    const f = caseWith(`ref-${what.replace(/ /g, '-')}`, { rulesetFile: ref });
    const r = await check(['check', f, '--backend', 'model']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:1:`);
    expect(r.err).toContain('hosts.node.rulesetFile');
    expect(r.err).toMatch(why);
    expect(r.err).not.toContain(SECRET);
    expect(r.err).not.toContain('root:');
  });
}

test('services.file and apply.services are confined the same way', async () => {
  const f = join(caseDir, 'svc.json');
  const base = {
    name: 'svc',
    topology: 'k8s-node',
    services: { file: '/etc/passwd', clusterCIDR: '10.244.0.0/16' },
    steps: [{ from: 'pod1', proto: 'tcp', dst: '10.96.0.100', dport: 80 }],
  };
  writeFileSync(f, JSON.stringify(base));
  let r = await check(['check', f, '--backend', 'model']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('services.file');
  expect(r.err).not.toContain('root:');
  writeFileSync(
    f,
    JSON.stringify({
      ...base,
      services: { ...base.services, file: '../../../../../../../../../../../../../work/does-not-matter' },
      steps: [{ apply: { services: '/etc/passwd' } }],
    }),
  );
  r = await check(['check', f, '--backend', 'model']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('services.file');
});

test('a file inside the folder is read, and --allow-path opens another folder', async () => {
  const ok = caseWith('inside', { rulesetFile: 'ok.rules' });
  expect((await check(['check', ok, '--backend', 'model'])).code).toBe(0);
  const other = caseWith('allowed', { rulesetFile: '../outside/secret.rules' });
  const r = await check(['check', other, '--backend', 'model', '--allow-path', outside]);
  // now read: the ruleset itself is bad (an unknown target), reported as a ruleset error
  expect(r.code).toBe(2);
  expect(r.err).not.toContain("outside the case file's folder");
});

test('command-line files: directories and devices are refused with exit 2', async () => {
  for (const args of [
    ['lint', '/'],
    ['check', '/'],
    ['trace', '--topology', '/', '--from', 'pod1', 'tcp', '10.0.0.1:80'],
    ['lint', join(caseDir, 'fifo')],
    ['lint', '/dev/zero'],
  ]) {
    const r = await check(args);
    expect(r.code, args.join(' ')).toBe(2);
    expect(r.err).toMatch(/is a directory|not a regular file/);
  }
});

test('an input above the size cap is refused with the limit and how to raise it', async () => {
  const f = join(top, 'big.rules');
  writeFileSync(f, `# ${'x'.repeat(2000)}\n`);
  process.env.NFCONFORM_MAX_INPUT_BYTES = '1000';
  try {
    const r = await check(['lint', f]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('NFCONFORM_MAX_INPUT_BYTES');
  } finally {
    delete process.env.NFCONFORM_MAX_INPUT_BYTES;
  }
});

test('messages escape control characters and cut long tokens', async () => {
  const f = join(top, 'esc.rules');
  writeFileSync(f, `*filter\n-A INPUT -j \u001b[31mRED${'y'.repeat(100_000)}\nCOMMIT\n`);
  const r = await check(['lint', f]);
  expect(r.code).toBe(2);
  expect(r.err).not.toContain('\u001b');
  expect(r.err.length).toBeLessThan(1000);
  expect(existsSync(f)).toBe(true);
});
