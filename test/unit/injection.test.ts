// No field of a case or topology file can run a command: every one that reaches `ip`, a sysctl
// path or a namespace name is checked at load, so an injected line is refused (exit 2) before a
// lab exists. As root the unmutated case really runs on the kernel, so a missed check would run.
import { test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { batchLine, checkArgs } from '../../src/lab/ip.ts';
import { main } from '../../src/cli/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nfc-inject-'));
const root = process.getuid?.() === 0;

function cli(args: string[]): { code: number; err: string } {
  try {
    execFileSync(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { code: 0, err: '' };
  } catch (e) {
    const x = e as { status: number; stderr: Buffer };
    return { code: x.status, err: String(x.stderr) };
  }
}

/** The same entry the command line uses, in-process (a process start costs seconds on a busy machine). */
async function inProcess(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(args, { out: () => undefined, err: (s) => (err += s) });
  return { code, err };
}

const netnsList = () => (root ? execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) : '');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const base = (): Json => ({
  name: 'injection base',
  topology: {
    name: 'inj',
    hosts: [
      {
        name: 'a',
        ifaces: [
          { name: 'br0', bridge: true, addrs: ['10.1.0.1/24'] },
          { name: 'vp', master: 'br0', peer: { host: 'c', iface: 'eth0' } },
          { name: 'eth0', addrs: ['10.0.0.1/24'], peer: { host: 'b', iface: 'eth0' } },
        ],
        routes: [{ dst: '10.2.0.0/24', via: '10.0.0.2', dev: 'eth0' }],
        sysctls: { ip_forward: true },
        servers: [{ proto: 'tcp', port: 8080 }],
      },
      {
        name: 'b',
        ifaces: [{ name: 'eth0', addrs: ['10.0.0.2/24'], peer: { host: 'a', iface: 'eth0' } }],
        routes: [{ dst: 'default', via: '10.0.0.1' }],
      },
      {
        name: 'c',
        ifaces: [{ name: 'eth0', addrs: ['10.1.0.2/24'], peer: { host: 'a', iface: 'vp' } }],
        routes: [{ dst: 'default', via: '10.1.0.1' }],
      },
    ],
  },
  hosts: { a: { hairpin: ['vp'], backend: 'nft' } },
  steps: [{ from: 'b', proto: 'tcp', dst: '10.0.0.1', dport: 8080, src: '10.0.0.2', expect: { outcome: 'delivered' } }],
});

// each mutation puts the payload into one field that reaches a command, a path or a name
const FIELDS: [string, (c: Json, p: string) => void][] = [
  ['host name', (c, p) => (c.topology.hosts[1].name = p)],
  ['interface name', (c, p) => (c.topology.hosts[0].ifaces[2].name = p)],
  ['bridge name', (c, p) => (c.topology.hosts[0].ifaces[0].name = p)],
  ['peer host', (c, p) => (c.topology.hosts[0].ifaces[2].peer.host = p)],
  ['peer interface', (c, p) => (c.topology.hosts[0].ifaces[2].peer.iface = p)],
  ['bridge master', (c, p) => (c.topology.hosts[0].ifaces[1].master = p)],
  ['address', (c, p) => (c.topology.hosts[0].ifaces[2].addrs[0] = `10.0.0.1/24${p}`)],
  ['route dst', (c, p) => (c.topology.hosts[0].routes[0].dst = `10.2.0.0/24${p}`)],
  ['route via', (c, p) => (c.topology.hosts[0].routes[0].via = `10.0.0.2${p}`)],
  ['route dev', (c, p) => (c.topology.hosts[0].routes[0].dev = `eth0${p}`)],
  ['sysctl name', (c, p) => (c.topology.hosts[0].sysctls[`ip_forward${p}`] = true)],
  ['sysctl value', (c, p) => (c.topology.hosts[0].sysctls.ip_forward = `1${p}`)],
  ['case sysctl name', (c, p) => (c.hosts.a.sysctls = { [`rp_filter${p}`]: 1 })],
  ['server proto', (c, p) => (c.topology.hosts[0].servers[0].proto = `tcp${p}`)],
  ['server port', (c, p) => (c.topology.hosts[0].servers[0].port = `8080${p}`)],
  ['backend', (c, p) => (c.hosts.a.backend = `nft${p}`)],
  ['hairpin port', (c, p) => (c.hosts.a.hairpin[0] = `vp${p}`)],
  ['case host key', (c, p) => (c.hosts[`a${p}`] = {})],
  ['topology name', (c, p) => (c.topology.name = `inj${p}`)],
  ['probe from', (c, p) => (c.steps[0].from = `b${p}`)],
  ['probe dst', (c, p) => (c.steps[0].dst = `10.0.0.1${p}`)],
  ['probe src', (c, p) => (c.steps[0].src = `10.0.0.2${p}`)],
  ['apply host', (c, p) => c.steps.push({ apply: { [`a${p}`]: '*filter\nCOMMIT\n' } })],
];

test('the unmutated case is valid and runs (on the kernel too, as root)', () => {
  const f = join(dir, 'base.json');
  writeFileSync(f, JSON.stringify(base()));
  const r = cli(['check', f, '--backend', root ? 'both' : 'model']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
});

for (const [field, mutate] of FIELDS) {
  test(`injection through the ${field} runs nothing and is refused with exit 2`, async () => {
    const tag = `nfcinj${randomBytes(4).toString('hex')}`;
    const marker = join(dir, tag);
    const payload = `\nnetns add ${tag}\nnetns exec ${tag} touch ${marker}\n`;
    const c = base();
    mutate(c, payload);
    const f = join(dir, `${tag}.json`);
    writeFileSync(f, JSON.stringify(c));
    const r = await inProcess(['check', f, '--backend', root ? 'both' : 'model']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(f);
    expect(r.err).not.toContain('internal error');
    // the message escapes the payload: it stays on one line
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(marker)).toBe(false);
    expect(netnsList()).not.toContain(tag);
  });
}

test('a topology file with an injected name is refused by every command that loads one', async () => {
  const tag = `nfcinj${randomBytes(4).toString('hex')}`;
  const t = base().topology;
  t.hosts[0].ifaces[2].name = `eth0\nnetns add ${tag}`;
  const f = join(dir, `${tag}-topo.json`);
  writeFileSync(f, JSON.stringify(t));
  for (const [run, args] of [
    [cli, ['trace', '--topology', f, '--from', 'b', 'tcp', '10.0.0.1:8080', '--kernel']],
    [inProcess, ['lab', 'up', '--topology', f]],
  ] as const) {
    const r = await run([...args]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:`);
    expect(r.err).toContain('hosts[0].ifaces[2].name');
  }
  expect(netnsList()).not.toContain(tag);
});

test('the lab boundary refuses what no check let through', () => {
  expect(batchLine('link', 'add', 'name', 'eth0.100', 'type', 'bridge')).toBe('link add name eth0.100 type bridge');
  expect(batchLine('addr', 'add', '10.0.0.1/24', 'dev', 'eth0')).toBe('addr add 10.0.0.1/24 dev eth0');
  for (const bad of ['eth0\nnetns add x', 'a b', '"x', '#x', 'x\\', '', '-x', 'a;b'])
    expect(() => batchLine('link', 'set', 'dev', bad, 'up')).toThrow(/refused/);
  expect(() => checkArgs(['netns', 'exec', 'x\ny'])).toThrow(/refused/);
});
