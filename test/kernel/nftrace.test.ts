// The kernel's own nft rule trace (`meta nftrace set 1` + `nft monitor`) against the model's trace, rule by
// rule, on every probe of every case with native nft rules (suites/nft, a regression) and of every Service suite
// compiled in nftables mode (spec/nft.md §7, issue #16). A step's repetitions beyond REPEATS are left out: they
// repeat the same probe, and the chi-square cases' hundreds of them would cost minutes of tracing each (the
// kernel runs them all in kube-nft.test.ts).
import { describe, test, expect, afterAll } from 'vitest';
import { join } from 'node:path';
import { loadCase, findCaseFiles, SUITES_DIR } from '../../src/conform/case-file.ts';
import { LabPool, labSide } from '../../src/conform/run-case.ts';
import { planCase, acceptedRulesets } from '../../src/conform/plan.ts';
import { pairedRun, loadRulesets, type KernelSide } from '../../src/conform/paired-run.ts';
import { compareNftrace } from '../../src/conform/nftrace-compare.ts';
import { skipReason, kernelDescribe } from './env.ts';

/** repetitions of a step traced: enough to meet each endpoint of the suites' Services (at most 3) */
const REPEATS = 8;

describe.skipIf(skipReason)(kernelDescribe('kernel: nftrace against the model trace'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  let total = 0;
  const nftSuite = new Set(findCaseFiles(join(SUITES_DIR, 'nft')));
  const all = findCaseFiles().map((f) => ({ f, c: loadCase(f) }));
  const cases = [
    // the nft suites, and every other case a host of which holds native nft rules (a regression)
    ...all
      .filter(({ f, c }) => nftSuite.has(f) || Object.values(c.hosts ?? {}).some((h) => h.nft !== undefined))
      .map(({ c }) => ({ c, mode: 'iptables' as const })),
    ...all.filter(({ c }) => c.services !== undefined).map(({ c }) => ({ c, mode: 'nftables' as const })),
  ];
  for (const { c, mode } of cases) {
    test(`${c.name}${mode === 'nftables' ? ' (nftables mode)' : ''}`, async () => {
      const planned = await planCase(c, { mode });
      const plan = {
        ...planned,
        steps: planned.steps.map((s) => (s.kind === 'probe' ? { ...s, sports: s.sports.slice(0, REPEATS) } : s)),
      };
      acceptedRulesets(plan);
      const lab = await pool.get(plan.topology, { fresh: plan.freshLab });
      const side = labSide(lab);
      const traced: KernelSide = { ...side, probe: (p, o) => lab.kernel.probe(p, { ...o, nftrace: true }) };
      expect((await loadRulesets(plan, traced)).filter((a) => a.kernelRefusal)).toEqual([]);
      const tables = new Map<string, Set<string>>();
      for (const r of plan.nftRulesets) {
        await lab.kernel.enableNftrace(r.host);
        tables.set(r.host, new Set([...r.parsed!.tables.values()].map((t) => `${t.family} ${t.name}`)));
      }
      const problems: string[] = [];
      let compared = 0;
      for await (const r of pairedRun(plan, { kernel: traced, traces: 'all' })) {
        for (const [i, k] of (r.kernel ?? []).entries()) {
          const model = r.allTraces[i]![r.followed[i]!]!;
          const cmp = compareNftrace(model, k.nftrace ?? {}, (h) => tables.get(h) ?? new Set());
          compared += cmp.compared;
          for (const d of cmp.diffs)
            problems.push(
              `${r.step.label} #${i + 1} on ${d.host}: model only ${JSON.stringify(d.modelOnly)}, kernel` +
                ` only ${JSON.stringify(d.kernelOnly)}`,
            );
        }
      }
      expect(problems).toEqual([]);
      // something was compared: every case's probes cross an nft base chain
      expect(compared).toBeGreaterThan(0);
      total += compared;
    });
  }
  test('the trace compared segments of every case', () => {
    expect(total).toBeGreaterThan(20);
  });
});
