// The Docker lab gives the same observations as the netns lab, and leaves no container behind.
// Skipped, with the reason, where no Docker daemon or lab image is; CI sets NFCONFORM_REQUIRE_DOCKER=1,
// which turns that skip into a failure.
import { describe, test, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadCase, findCaseFiles, SUITES_DIR } from '../../src/conform/case-file.ts';
import { runCases, LabPool } from '../../src/conform/run-case.ts';
import { fuzz } from '../../src/conform/fuzz.ts';
import { dockerSkipReason, sweepStaleContainers, dockerClient, findImage } from '../../src/lab/docker-site.ts';
import { crossDiffs } from '../../src/conform/cross-compare.ts';

const required = process.env.NFCONFORM_REQUIRE_DOCKER === '1';
const reason = await dockerSkipReason();
const skip = reason !== undefined && !required;
const title = (t: string) => (skip ? `${t} [skipped: ${reason}]` : t);

async function containersOf(pid: number): Promise<string[]> {
  const list = await dockerClient().listContainers({
    all: true,
    filters: JSON.stringify({ label: [`org.nfconform.owner-pid=${pid}`] }),
  });
  return list.map((c) => c.Id);
}

function holdLab(): Promise<{ pid: number; exited: Promise<unknown> }> {
  const script = fileURLToPath(new URL('./fixtures/hold-lab.ts', import.meta.url));
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
  const child = spawn(tsx, [script, 'docker'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /UP (\d+)/.exec(out);
      if (m) resolve({ pid: Number(m[1]), exited });
    });
    child.on('exit', (code) => reject(new Error(`lab holder exited early (${code})`)));
  });
}

describe.skipIf(skip)(title('kernel: the Docker lab'), () => {
  test('the daemon and the lab image are there', () => {
    expect(reason ?? null).toBeNull();
  });

  test('the seed suites observe the same on netns and on Docker', { timeout: 300_000 }, async () => {
    const cases = findCaseFiles(`${SUITES_DIR}seed`).map(loadCase);
    const netns = await runCases(cases, { sides: 'kernel', lab: { runtime: 'netns' } });
    const docker = await runCases(cases, { sides: 'kernel', lab: { runtime: 'docker' } });
    for (const r of [...netns, ...docker]) expect(r.error ?? null).toBeNull();
    const { compared, diffs } = crossDiffs(netns, docker);
    expect(compared).toBeGreaterThan(50);
    expect(diffs).toEqual([]);
    expect(docker.map((r) => r.kernel)).toEqual(netns.map((r) => r.kernel));
  });

  test('a fuzz campaign on the Docker lab: model and kernel agree, as on netns', { timeout: 300_000 }, async () => {
    const pool = new LabPool({ runtime: 'docker', timeoutMs: 150 });
    try {
      const r = await fuzz({ oracle: { kind: 'kernel', pool }, runs: 40, seed: 2026, shrinkSeconds: 30 });
      expect(r.cases).toBe(40);
      expect(r.divergence ?? null).toBeNull();
    } finally {
      await pool.close();
    }
  });

  test('SIGTERM removes the container', { timeout: 60_000 }, async () => {
    const { pid, exited } = await holdLab();
    expect((await containersOf(pid)).length).toBe(1);
    process.kill(pid, 'SIGTERM');
    await exited;
    expect(await containersOf(pid)).toEqual([]);
  });

  test(
    'after SIGKILL the container goes with its helper, or the next start sweeps it',
    { timeout: 60_000 },
    async () => {
      const { pid, exited } = await holdLab();
      expect((await containersOf(pid)).length).toBe(1);
      process.kill(pid, 'SIGKILL');
      await exited;
      await sweepStaleContainers(); // what the next run does first
      for (let i = 0; i < 50 && (await containersOf(pid)).length; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await containersOf(pid)).toEqual([]);
    },
  );
});

describe.skipIf(skip)(title('kernel: Docker lab errors'), () => {
  test('a missing image says how to build it', async () => {
    const before = process.env.NFCONFORM_DOCKER_IMAGE;
    process.env.NFCONFORM_DOCKER_IMAGE = 'nfconform-lab:no-such-tag';
    try {
      await expect(findImage()).rejects.toThrow(
        'nfconform-lab:no-such-tag is missing. Build it: `npm run docker:build`' +
          ' (or `npm run docker:build -- --offline`',
      );
    } finally {
      if (before === undefined) delete process.env.NFCONFORM_DOCKER_IMAGE;
      else process.env.NFCONFORM_DOCKER_IMAGE = before;
    }
  });
});
