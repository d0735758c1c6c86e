// One plan per case: the model run, the mutant oracle and repro.sh read the same source ports and the same
// canonical rulesets in both iptables flavors (issue 11). The kernel-side consumers (the kernel run,
// explain.md) are checked in test/kernel/plan.test.ts.
import { test, expect } from 'vitest';
import { join } from 'node:path';
import { loadCase, SUITES_DIR, type CaseFile } from '../../src/conform/case-file.ts';
import { caseCost, planCase, FIRST_PORT, probeSteps } from '../../src/conform/plan.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { reproScript } from '../../src/conform/repro.ts';
import { judgePlanAgainstMutant } from '../../src/conform/mutant.ts';

const mixed: CaseFile = {
  ...loadCase(join(SUITES_DIR, 'backends/mixed-filter.json')),
  steps: [
    { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080, repeat: 2 },
    { wait: 0 },
    { from: 'client', proto: 'udp', dst: '10.244.1.11', dport: 9090, sport: 5555 },
    { apply: { node2: 'iptables -A INPUT -p udp -j DROP\n' } },
    { from: 'pod1', proto: 'icmp', dst: '10.244.1.12' },
    { from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 8080, repeat: 3 },
  ],
};

/** The source ports a repro.sh sends from, in order (ICMP probes have none). */
const reproPorts = (script: string) => [...script.matchAll(/sourceport=(\d+)/g)].map((m) => Number(m[1]));
/** The rulesets a repro.sh restores, with the iptables flavor of each. */
const reproRulesets = (script: string) =>
  [...script.matchAll(/iptables-(nft|legacy)-restore <<'RULES'[^\n]*\n([\s\S]*?)\nRULES/g)].map((m) => ({
    flavor: m[1],
    text: m[2]!.trimEnd(),
  }));

test('one counter: every probe without a source port gets the next one, repetitions included', async () => {
  const plan = await planCase(mixed);
  expect(probeSteps(plan).map((s) => s.sports)).toEqual([
    [FIRST_PORT, FIRST_PORT + 1],
    [5555],
    [FIRST_PORT + 2],
    [FIRST_PORT + 3, FIRST_PORT + 4, FIRST_PORT + 5],
  ]);
  expect(plan.probes).toBe(7);
  const shifted = await planCase(mixed, { firstPort: 50000 });
  expect(probeSteps(shifted)[0]!.sports).toEqual([50000, 50001]);
});

test(
  'each ruleset is read once, in its host flavor, with its canonical text; the other flavor' + ' is kept apart',
  async () => {
    const plan = await planCase(mixed);
    expect(plan.rulesets.map((r) => [r.host, r.flavor])).toEqual([['node', 'nft']]);
    expect(plan.otherRulesets.map((r) => [r.host, r.flavor])).toEqual([['node', 'legacy']]);
    expect(plan.otherRulesets[0]!.kernelText).toContain('-A INPUT -p tcp -m tcp --dport 9090 -j DROP');
    expect(plan.freshLab).toBe(true);
    // --iptables legacy moves every host but one with rules in both flavors
    const legacy = await planCase(mixed, { iptables: 'legacy' });
    expect(legacy.network.hosts.get('node2')!.backend).toBe('legacy');
    expect(legacy.rulesets[0]!.flavor).toBe('nft');
  },
);

test('the model run, the mutant oracle and repro.sh see the same ports and rulesets as the plan', async () => {
  const plan = await planCase(mixed);
  const planned = probeSteps(plan);
  // the model run
  const [report] = await runCases([mixed], { sides: 'model' });
  expect(report!.error).toBeUndefined();
  expect(planned.map((s) => report!.steps[s.index]!.sports)).toEqual(planned.map((s) => s.sports));
  expect(planned.map((s) => report!.steps[s.index]!.label)).toEqual(planned.map((s) => s.label));
  // the mutant oracle sends every repetition, through the apply and wait steps
  const judged = await judgePlanAgainstMutant(plan, 'none');
  expect(judged).toMatchObject({ diffs: [], probes: plan.probes });
  expect(judged.outcomes).toHaveLength(plan.probes);
  // repro.sh: the same ports (ICMP has none), and both flavors' rules in the plan's order and canonical form
  const script = reproScript(plan);
  expect(reproPorts(script)).toEqual(planned.filter((s) => s.probe.proto !== 'icmp').flatMap((s) => s.sports));
  const applied = plan.steps.flatMap((s) => (s.kind === 'apply' ? s.rulesets : []));
  expect(reproRulesets(script)).toEqual(
    [...plan.rulesets, ...plan.otherRulesets, ...applied].map((r) => ({
      flavor: r.flavor,
      text: r.kernelText.trimEnd(),
    })),
  );
});

test("a case's cost, which orders a campaign's cases longest first: its probes, waits and other steps", () => {
  // 1 (set-up) + 2 + 0 (wait 0) + 1 + 0.2 (apply) + 1 + 3
  expect(caseCost(mixed)).toBeCloseTo(8.2);
  const waiting = { ...mixed, steps: [...mixed.steps, { wait: 2 }] };
  expect(caseCost(waiting)).toBeCloseTo(12.2);
  expect(caseCost({ ...mixed, steps: mixed.steps.slice(0, 1) })).toBeLessThan(caseCost(mixed));
});
