// Runs do not harm each other: `lab down` and `lab exec` address only labs made by `lab up`;
// a running `check` keeps its lab, and a pid with another start time owns nothing.
import { describe, test, expect } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/cli.ts';
import { downTargets, type LabInfo } from '../../src/cli/lab-cmd.ts';
import { parseNsName, ownerAlive, startTimeOf, nsName } from '../../src/lab/names.ts';
import { skipReason, kernelDescribe } from './env.ts';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
const namespaces = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const info = (runId: string, handMade: boolean): LabInfo => ({
  owner: { pid: 1, runId, host: 'node', handMade },
  runId,
  hosts: new Map([['node', `nfc-1-${runId}-node`]]),
  alive: true,
  handMade,
});

test('lab down without a run id selects only labs made by lab up; a run id of another run is refused', () => {
  const all = [info('abc123', false), info('m0f0f0f', true), info('def456', false)];
  expect(downTargets(all, undefined).map((l) => l.runId)).toEqual(['m0f0f0f']);
  expect(() => downTargets([info('abc123', false)], undefined)).toThrow(/no labs made by "nfconform lab up"/);
  expect(() => downTargets(all, 'abc123')).toThrow(/belongs to a run/);
});

test('names carry the owner start time; a reused pid (another start time) owns nothing', () => {
  const name = nsName(process.pid, 'abc123', 'node');
  const p = parseNsName(name)!;
  expect(p.start).toBe(startTimeOf(process.pid));
  expect(ownerAlive(p)).toBe(true);
  expect(ownerAlive({ pid: process.pid, start: p.start! + 1 })).toBe(false);
  // names made before the start time was recorded still parse
  expect(parseNsName('nfc-12-abc123-node')).toMatchObject({ pid: 12, runId: 'abc123', handMade: false });
});

describe.skipIf(skipReason)(kernelDescribe('kernel: lab down and a concurrent run'), () => {
  test("lab down leaves a running check's lab alone and takes down its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfc-own-'));
    const file = join(dir, 'slow.json');
    const probe = { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080, expect: { outcome: 'delivered' } };
    writeFileSync(file, JSON.stringify({ name: 'slow', topology: 'k8s-node', steps: [probe, { wait: 6 }, probe] }));
    const child = spawn(process.execPath, [BIN, 'check', file, '--sides', 'kernel'], { stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // wait for the check's lab
      let theirs: string[] = [];
      for (let i = 0; i < 600 && theirs.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        theirs = namespaces().filter((n) => parseNsName(n)?.pid === child.pid);
      }
      expect(theirs.length).toBeGreaterThan(0);
      const runId = parseNsName(theirs[0]!)!.runId;
      expect(parseNsName(theirs[0]!)!.handMade).toBe(false);

      const down = await cli(['lab', 'down', runId]);
      expect(down.code).toBe(2);
      expect(down.err).toContain('belongs to a run');
      // without --lab, exec never enters the check's lab
      const ex = await cli(['lab', 'exec', 'node', '--', 'true']);
      expect(ex.err).not.toContain(runId);

      // a lab made by lab up is taken down by its id
      const up = await cli(['lab', 'up']);
      expect(up.code).toBe(0);
      const mine = /lab (m[0-9a-f]+) is up/.exec(up.out)![1]!;
      expect((await cli(['lab', 'down', mine])).code).toBe(0);
      for (let i = 0; i < 100 && namespaces().some((n) => n.includes(`-${mine}-`)); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(namespaces().some((n) => n.includes(`-${mine}-`))).toBe(false);

      // the check ran to its end, on its lab
      expect(await done).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
