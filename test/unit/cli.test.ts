// The command line: bad input exits 2 with file:line:col and no stack trace.
import { test, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nfc-cli-'));

function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('lint prints the canonical form', () => {
  const f = join(dir, 'ok.rules');
  writeFileSync(f, 'iptables -A INPUT -s 10.0.0.1 -p tcp --dport 22 -j DROP\n');
  const r = cli(['lint', f]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j DROP');
});

test('a malformed ruleset: exit 2, file:line:col, the cause, no stack trace', () => {
  const f = join(dir, 'bad.rules');
  writeFileSync(f, '*filter\n-A INPUT -p tcp --dport 99999 -j DROP\nCOMMIT\n');
  const r = cli(['lint', f]);
  expect(r.code).toBe(2);
  expect(r.err).toContain(`${f}:2:`);
  expect(r.err).toContain("invalid port/service `99999' specified");
  expect(r.err).not.toMatch(/\n\s+at /);
});

test('an unknown match is a warning (exit 0); --strict makes it an error (exit 2)', () => {
  const f = join(dir, 'unsupported.rules');
  writeFileSync(f, '*filter\n-A INPUT -m cluster --cluster-total-nodes 2 -j DROP\n-A INPUT -j ACCEPT\nCOMMIT\n');
  const r = cli(['lint', f]);
  expect(r.code).toBe(0);
  expect(r.err).toContain(`${f}:2:13: unsupported: match module "cluster"`);
  expect(r.out).toContain('-A INPUT -j ACCEPT');
  const s = cli(['lint', '--strict', f]);
  expect(s.code).toBe(2);
  expect(s.err).toContain('unsupported: match module "cluster"');
});

test('lint lists every problem of a file in one run, each as file:line:col', () => {
  const f = join(dir, 'many.rules');
  writeFileSync(
    f,
    [
      '* nat',
      '-A PREROUTING -p tcp --dport 99999 -j ACCEPT',
      '-A PREROUTING -m nosuch -j ACCEPT',
      '-A PREROUTING -d ! 10.0.0.0/8 -j ACCEPT',
      '-A PREROUTING -j NOCHAIN-HERE',
      '-A PREROUTING -p tcp -j REDIRECT --to-port 8080',
      'COMMIT',
      '',
    ].join('\n'),
  );
  const r = cli(['lint', f]);
  expect(r.code).toBe(2);
  for (const at of [':2:30: ', ':3:18: unsupported', ':4:20: ', ':5:18: ']) expect(r.err).toContain(`${f}${at}`);
  expect(r.err).toContain("write `! -d 10.0.0.0/8'");
  expect(r.err).not.toContain(`${f}:6:`);
});

test('--noflush: chains a fragment jumps to without declaring them are taken to exist', () => {
  const f = join(dir, 'fragment.rules');
  writeFileSync(f, '*filter\n:KUBE-FW - [0:0]\n-A INPUT -j KUBE-FIREWALL\n-A KUBE-FW -j DROP\nCOMMIT\n');
  expect(cli(['lint', f]).code).toBe(2);
  const r = cli(['lint', '--noflush', f]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('-A INPUT -j KUBE-FIREWALL');
});

test('a script: program paths, sudo and backslash continuations', () => {
  const f = join(dir, 'script.sh');
  writeFileSync(
    f,
    '#!/bin/sh\n/sbin/iptables -A INPUT -p tcp \\\n    --dport ssh \\\n    -j ACCEPT\nsudo' +
      ' /usr/sbin/iptables-legacy -t nat -A POSTROUTING -s 10.0.0.0/8,10.1.0.0/16 -j MASQUERADE\n',
  );
  const r = cli(['lint', f]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT');
  expect(r.out).toContain('-A POSTROUTING -s 10.1.0.0/16 -j MASQUERADE');
});

test('a broken case file: exit 2 with the file and the field', () => {
  const f = join(dir, 'case.json');
  writeFileSync(
    f,
    JSON.stringify({ name: 'x', topology: 'k8s-node', steps: [{ from: 'pod1', proto: 'tcp', dst: '10.0.0.1' }] }),
  );
  const r = cli(['check', f, '--backend', 'model']);
  expect(r.code).toBe(2);
  expect(r.err).toContain(`${f}:1:44: steps[0].dport: a port 1..65535 is required for tcp`);
  const g = join(dir, 'notjson.json');
  writeFileSync(g, '{\n  "name": "x",\n  oops\n}\n');
  const s = cli(['check', g]);
  expect(s.code).toBe(2);
  expect(s.err).toMatch(new RegExp(`${g}:3:\\d+: the case file is not valid JSON`));
});

test('trace --json gives the observation record and the trace', () => {
  const f = join(dir, 'dnat.rules');
  writeFileSync(f, 'iptables -t nat -A PREROUTING -d 10.96.0.1 -p tcp -j DNAT --to-destination 10.244.1.12:8080\n');
  const r = cli(['trace', '--ruleset', `node=${f}`, '--from', 'client', 'tcp', '10.96.0.1:80', '--json']);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out) as {
    results: { p: number; observation: { outcome: string; responder: string }; trace: unknown[] }[];
  };
  expect(j.results[0]!.observation).toMatchObject({ outcome: 'delivered', responder: 'pod2' });
  expect(j.results[0]!.trace.length).toBeGreaterThan(10);
});

test('trace reads an nft ruleset, told by its content or by --lang nft; a bad one is file:line:col, exit 2', () => {
  const f = join(dir, 'svc.nft');
  writeFileSync(
    f,
    'table ip kp {\n\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n' +
      '\t\tip daddr 10.96.0.1 tcp dport 80 numgen random mod 2 vmap { 0 : goto a, 1 : goto b }\n\t}\n' +
      '\tchain a {\n\t\tmeta l4proto tcp dnat to 10.244.1.11:8080\n\t}\n' +
      '\tchain b {\n\t\tmeta l4proto tcp dnat to 10.244.1.12:8080\n\t}\n}\n',
  );
  for (const extra of [[], ['--lang', 'nft']]) {
    const r = cli(['trace', '--ruleset', `node=${f}`, '--from', 'client', 'tcp', '10.96.0.1:80', '--json', ...extra]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { results: { p: number; observation: { responder: string }; trace: unknown[] }[] };
    expect(j.results.map((x) => [x.p, x.observation.responder])).toEqual([
      [0.5, 'pod1'],
      [0.5, 'pod2'],
    ]);
    expect(JSON.stringify(j.results[0]!.trace)).toContain('ip kp');
  }
  // read as iptables it is malformed; a broken nft file names its line
  expect(
    cli(['trace', '--ruleset', `node=${f}`, '--lang', 'iptables', '--from', 'client', 'tcp', '10.96.0.1:80']).code,
  ).toBe(2);
  const bad = join(dir, 'bad.nft');
  writeFileSync(bad, 'table ip t {\n\tchain c {\n\t\tjump nosuch\n\t}\n}\n');
  const r = cli(['trace', '--ruleset', `node=${bad}`, '--from', 'client', 'tcp', '10.96.0.1:80']);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/bad\.nft:3:\d+: .*nosuch/);
  expect(r.err).not.toMatch(/\n\s+at /);
});

test('check on the model: a passing case exits 0, a failing one 1', () => {
  const ok = join(dir, 'pass.json');
  writeFileSync(
    ok,
    JSON.stringify({
      name: 'pass',
      topology: 'k8s-node',
      steps: [
        {
          from: 'pod1',
          proto: 'tcp',
          dst: '10.244.1.12',
          dport: 8080,
          expect: { outcome: 'delivered', responder: 'pod2' },
        },
      ],
    }),
  );
  expect(cli(['check', ok, '--backend', 'model']).code).toBe(0);
  const bad = join(dir, 'fail.json');
  writeFileSync(
    bad,
    JSON.stringify({
      name: 'fail',
      topology: 'k8s-node',
      steps: [{ from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080, expect: { outcome: 'dropped' } }],
    }),
  );
  const r = cli(['check', bad, '--backend', 'model']);
  expect(r.code).toBe(1);
  expect(r.out).toContain('outcome delivered, expected dropped');
});

test('an unknown command or flag: exit 2', () => {
  expect(cli(['nosuch']).code).toBe(2);
  expect(cli(['lint', '--nosuch']).code).toBe(2);
});

test('--sides, --runtime and --iptables name three things; --backend stays as their alias', () => {
  const ok = join(dir, 'sides.json');
  writeFileSync(
    ok,
    JSON.stringify({
      name: 'sides',
      topology: 'k8s-node',
      steps: [{ from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080, expect: { outcome: 'delivered' } }],
    }),
  );
  const row = (r: { out: string }) => r.out.split('\n').find((l) => l.startsWith('sides '));
  const sides = cli(['check', ok, '--sides', 'model']);
  expect(sides.code).toBe(0);
  // the model ran and passed; kernel, agree and oracle did not run
  expect(row(sides)).toMatch(/^sides\s+✓\s+·\s+·\s+·$/);
  expect(cli(['check', ok, '--backend', 'model']).out).toBe(sides.out);
  expect(cli(['check', ok, '--sides', 'model', '--iptables', 'legacy']).code).toBe(0);
  const bad = cli(['check', ok, '--sides', 'netns']);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain('--sides must be model, kernel or both, not "netns"');
  expect(cli(['check', ok, '--runtime', 'model']).err).toContain('--runtime must be netns or docker');
  expect(cli(['trace', '--from', 'pod1', 'tcp', '10.244.1.12:8080', '--runtime', 'vm']).code).toBe(2);
  expect(cli(['lint', '--iptables', 'iptables', 'x']).err).toContain('--iptables must be nft or legacy');
  expect(cli(['check', ok, '--nosuch']).err).toMatch(/nfconform: .*--nosuch/);
});

test('trace names a REJECT answer once: "icmp-port-unreachable from node", not "from node from node"', () => {
  const f = join(dir, 'reject.rules');
  writeFileSync(f, '*filter\n-A FORWARD -p tcp --dport 8080 -j REJECT\nCOMMIT\n');
  const r = cli(['trace', '--ruleset', `node=${f}`, '--from', 'pod2', 'tcp', '10.244.2.13:8080']);
  expect(r.code).toBe(0);
  expect(r.out).toContain('▶ icmp-port-unreachable from node: icmp 10.244.1.1 > 10.244.1.12');
  expect(r.out).not.toMatch(/from (\S+) from \1/);
});

test('--help lists every command and exits 0; no command exits 2 with the same text', () => {
  const help = cli(['--help']);
  expect(help.code).toBe(0);
  for (const c of ['run', 'check', 'fuzz', 'compile', 'validate', 'trace', 'lint', 'doctor', 'lab up'])
    expect(help.out).toContain(`nfconform ${c}`);
  const none = cli([]);
  expect(none.code).toBe(2);
  expect(none.out).toBe(help.out);
});

// one test per command: each spawns three CLIs, within its own timeout (a loaded machine is slow to start them)
test.each(['run', 'check', 'fuzz', 'compile', 'validate', 'trace', 'lint', 'snapshot', 'doctor', 'lab'])(
  '%s: CMD --help, help CMD and CMD -h print that command usage and exit 0',
  (c) => {
    const r = cli([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`usage: nfconform ${c}`);
    expect(r.out).not.toContain('commands:');
    expect(cli(['help', c]).out).toBe(r.out);
    expect(cli([c, '-h']).out).toBe(r.out);
  },
);

test('-h after -- is the command line of lab exec, not a request for help', () => {
  expect(cli(['lab', 'exec', 'node', '--lab', 'nosuch', '--', 'ls', '-h']).out).not.toContain('usage:');
});

test('fuzz --mode goes with --services; a replay line carries the flags that shaped the draw', async () => {
  const r = cli(['fuzz', '--mode', 'nftables', '--runs', '1']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('--mode is the proxy mode of the drawn Services: it goes with --services');
  expect(cli(['fuzz', '--services', '--mode', 'ipvs']).err).toContain(
    '--mode must be iptables or nftables, not "ipvs"',
  );
  const { replayCommand } = await import('../../src/conform/artifacts.ts');
  expect(replayCommand(7, '8:0:1', ['--services', '--mode nftables'])).toBe(
    'nfconform fuzz --services --mode nftables --replay 7:8:0:1',
  );
  expect(replayCommand(7, '3')).toBe('nfconform fuzz --replay 7:3');
  // the nftables shape of one kube-proxy release: with --mode nftables only, and one of the known releases
  expect(cli(['fuzz', '--services', '--kube-proxy-version', '1.35']).err).toContain(
    '--kube-proxy-version says which nftables-mode shape: it goes with --mode nftables',
  );
  expect(cli(['fuzz', '--services', '--mode', 'nftables', '--kube-proxy-version', '1.2']).err).toContain(
    '--kube-proxy-version must be 1.36 or 1.35, not "1.2"',
  );
});
