// A bounded campaign in CI: fixed seeds, plus one random seed that is printed. It must pass: any
// divergence, known or not, fails it.
import { describe, test, expect, afterAll } from 'vitest';
import { fuzz, judgeCase } from '../../src/conform/fuzz.ts';
import { LabPool } from '../../src/conform/run-case.ts';
import { PhaseTimes } from '../../src/lab/profile.ts';
import { modelMutant } from '../../src/model/index.ts';
import { skipReason, kernelDescribe } from './env.ts';

const diffLine = (x: { step: string; diff: { field: string; model: unknown; kernel: unknown } }): string =>
  `${x.step}: ${x.diff.field} model=${JSON.stringify(x.diff.model)} kernel=${JSON.stringify(x.diff.kernel)}`;

describe.skipIf(skipReason)(kernelDescribe('kernel: bounded fuzz campaign'), () => {
  const pool = new LabPool({ timeoutMs: 150 });
  afterAll(async () => {
    await pool.close();
  });
  const random = Math.floor(Math.random() * 0x7fffffff);
  for (const seed of [1, 2, 3, random]) {
    test(
      `${seed === random ? 'a random seed (printed)' : `seed ${seed}`}: 40 cases, model and` + ` kernel agree`,
      async () => {
        if (seed === random) console.log(`random fuzz seed: ${seed}`);
        const r = await fuzz({ oracle: { kind: 'kernel', pool }, runs: 40, seed, shrinkSeconds: 30 });
        const d = r.divergence;
        expect(
          d
            ? `${d.diffs.map(diffLine).join('\n')}\nreplay: nfconform fuzz --replay ${d.seed}:${d.path}\n` +
                `case: ${JSON.stringify(d.case)}`
            : null,
        ).toBeNull();
        // a registered ("known") divergence is still a divergence: the bounded campaign allows none
        expect(r.known.map((k) => `${k.entry.id}: ${k.diff.step}: ${k.diff.diff.field}`)).toEqual([]);
        expect(r.cases).toBe(40);
        // coverage: the kernel's outcome of every probe, and one `indeterminate` per step the model left open
        const { indeterminate = 0, ...decided } = r.coverage.counts.outcome;
        expect(Object.values(decided).reduce((a, b) => a + b, 0)).toBe(r.probes);
        expect(indeterminate).toBeLessThanOrEqual(r.probes);
      },
      300_000,
    );
  }

  test('a step the model leaves open counts as indeterminate in the coverage, beside what the kernel saw', async () => {
    // node answers no ARP: pod1's first SYN starts a resolution nobody answers (dropped); the second, within its
    // 3 s, may hear its host-unreachable or not (open)
    const j = await judgeCase(
      {
        name: 'an open neighbour resolution',
        topology: 'k8s-node',
        hosts: { node: { sysctls: { arp_ignore: 8 } } },
        steps: [{ from: 'pod1', proto: 'tcp', dst: '192.168.50.20', dport: 8080, repeat: 2 }],
      },
      { kind: 'kernel', pool },
      [],
    );
    expect(j.diffs).toEqual([]);
    expect(j.outcomes).toEqual(['dropped', 'dropped', 'indeterminate']);
  }, 60_000);
});

describe.skipIf(skipReason)(kernelDescribe('kernel: a campaign on labs side by side'), () => {
  const pool = new LabPool({ timeoutMs: 150 });
  afterAll(async () => {
    await pool.close();
  });
  test('seed 7 on 3 labs is the campaign on one lab: the same cases, the same first divergence (if any)', async () => {
    const one = await fuzz({ oracle: { kind: 'kernel', pool }, runs: 20, seed: 7, shrinkSeconds: 5 });
    // the three labs keep a profile (`fuzz --profile`): every probe is booked as answered or dropped; and a
    // spare lab each, as `fuzz` does: the same cases give the same results
    const profiled = new LabPool({ timeoutMs: 150, profile: new PhaseTimes() }, { spare: true });
    let three: Awaited<ReturnType<typeof fuzz>>;
    try {
      three = await fuzz({ oracle: { kind: 'kernel', pool: profiled }, runs: 20, seed: 7, shrinkSeconds: 5, labs: 3 });
    } finally {
      await profiled.close();
    }
    // a divergence is the same draw (its index, the first part of the path) found either way
    expect(three.divergence?.path.split(':')[0]).toBe(one.divergence?.path.split(':')[0]);
    if (!one.divergence) {
      expect(three.cases).toBe(20);
      expect(three.probes).toBe(one.probes);
      const count = (phase: string) => three.profile?.find((x) => x.phase === phase)?.count ?? 0;
      expect(count('probe-answered') + count('probe-dropped')).toBe(three.probes);
      expect(count('build')).toBeGreaterThanOrEqual(3);
      expect(count('plan')).toBe(20);
    }
  }, 300_000);

  test('a campaign from case k goes on after a divergence: the cases from k on, in the same draw order', async () => {
    // a mutant as the model (npm run mutants -- --model): its first divergence, then the campaign after it
    const oracle = { kind: 'kernel' as const, pool, semantics: modelMutant('no-nat-output').semantics };
    const first = await fuzz({ oracle, runs: 30, seed: 20261201, shrinkSeconds: 0 });
    expect(first.divergence).toBeDefined();
    const k = Number(first.divergence!.path.split(':')[0]) + 1;
    const next = await fuzz({ oracle, runs: k + 4, seed: 20261201, shrinkSeconds: 0, from: k });
    // only the cases from k on ran; a divergence among them is one of them
    expect(next.cases).toBeLessThanOrEqual(4);
    if (next.divergence) expect(Number(next.divergence.path.split(':')[0])).toBeGreaterThanOrEqual(k);
    else expect(next.cases).toBe(4);
  }, 300_000);
});
