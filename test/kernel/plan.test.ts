// The kernel-side consumers of a case's plan: the kernel run sends from the planned source ports, and
// explain.md replays the rules of both iptables flavors (it used to replay only the first flavor's, and
// could report "did not show again" for a real divergence).
import { describe, test, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseFile } from '../../src/conform/case-file.ts';
import { runCases, LabPool } from '../../src/conform/run-case.ts';
import { writeArtifacts } from '../../src/conform/artifacts.ts';
import { fuzz } from '../../src/conform/fuzz.ts';
import { InternalError } from '../../src/conform/errors.ts';
import { runProbe } from '../../src/model/index.ts';
import { skipReason, kernelDescribe } from './env.ts';

/** The model's probe with a planted TypeError on its second call. */
function crashOnSecond(): typeof runProbe {
  let calls = 0;
  return (lab, world, p, o) => {
    if (++calls === 2) throw new TypeError('planted');
    return runProbe(lab, world, p, o);
  };
}

const mixed: CaseFile = {
  name: 'plan: rules in both flavors',
  topology: 'k8s-node',
  hosts: {
    node: {
      backend: 'nft',
      ruleset: 'iptables -A FORWARD -p tcp --dport 9090 -j DROP\n',
      otherBackendRuleset: 'iptables -A FORWARD -d 10.244.1.12 -p tcp --dport 8080 -j DROP\n',
    },
  },
  steps: [
    { from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 8080, repeat: 2, label: 'delivered' },
    { from: 'client', proto: 'tcp', dst: '10.244.1.12', dport: 8080, label: 'dropped by the legacy rules' },
    { from: 'client', proto: 'udp', dst: '10.244.1.11', dport: 8080, sport: 5555, label: 'its own port' },
  ],
};

describe.skipIf(skipReason)(kernelDescribe('kernel: one plan per case'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });

  test('the kernel run sends from the planned source ports, the same the model used', async () => {
    const [r] = await runCases([mixed], { sides: 'both', pool });
    expect(r!.error).toBeUndefined();
    expect([r!.model, r!.kernel, r!.agree]).toEqual(['pass', 'pass', 'pass']);
    const delivered = r!.steps[0]!;
    expect(delivered.sports).toHaveLength(2);
    expect(delivered.kernel.map((k) => k.seen?.src)).toEqual(delivered.sports.map((p) => `192.168.50.20:${p}`));
    expect(r!.steps[2]!.kernel[0]!.seen?.src).toBe('192.168.50.20:5555');
    expect(r!.steps[1]!.kernel[0]!.outcome).toBe('dropped');
  });

  test('explain.md and case.json replay both flavors: the legacy rule drops on the replay too', async () => {
    const dir = await writeArtifacts(mkdtempSync(join(tmpdir(), 'nfc-plan-')), { c: mixed, diffs: [] }, pool);
    const saved = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as {
      steps: { observed?: { outcome: string } }[];
    };
    expect(saved.steps.map((s) => s.observed?.outcome)).toEqual(['delivered', 'dropped', 'delivered']);
    const repro = readFileSync(join(dir, 'repro.sh'), 'utf8');
    expect(repro.indexOf('iptables-legacy-restore')).toBeGreaterThan(repro.indexOf('iptables-nft-restore'));
  });

  test('a crash in the model pass is an internal error: no kernel failure, no divergence', async () => {
    const err = await runCases([mixed], { sides: 'both', pool, runProbe: crashOnSecond() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).phase).toBe('model');
    // fuzz stops and says how to reproduce it; it does not record an "apply" difference
    const f = await fuzz({ oracle: { kind: 'kernel', pool }, runs: 3, seed: 5, runProbe: crashOnSecond() }).catch(
      (e: unknown) => e,
    );
    expect(f).toBeInstanceOf(InternalError);
    expect((f as InternalError).message).toMatch(/nfconform fuzz --replay 5:\d+/);
  });
});
