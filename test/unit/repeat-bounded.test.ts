// Issue 17: a repeated probe step keeps a bounded sample of its repetitions (constant memory in the repeat
// count), while every repetition is still judged and tallied. Time per repetition is measured by `npm run bench
// repeat`, never here.
import { test, expect } from 'vitest';
import type { CaseFile, ProbeStep } from '../../src/conform/case-file.ts';
import { planCase, acceptedRulesets, type CasePlan } from '../../src/conform/plan.ts';
import { pairedRun, loadRulesets, KEEP_FIRST, KEEP_NOTABLE, type KernelSide } from '../../src/conform/paired-run.ts';
import { judgesFor, MAX_LISTED } from '../../src/conform/judges.ts';
import { MutantSide } from '../../src/conform/mutant.ts';
import { runCases } from '../../src/conform/run-case.ts';

const DNAT = 'iptables -t nat -A PREROUTING -d 10.96.0.100 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.11:8080';
const SPLIT =
  '*nat\n:PREROUTING ACCEPT [0:0]\n' +
  '-A PREROUTING -d 10.96.0.100/32 -p tcp --dport 80 -m statistic --mode random --probability 0.5' +
  ' -j DNAT --to-destination 10.244.1.11:8080\n' +
  '-A PREROUTING -d 10.96.0.100/32 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.13:8080\nCOMMIT\n';

const caseOf = (n: number, ruleset: string, extra: Partial<ProbeStep> = {}): CaseFile => ({
  name: `repeat ${n}`,
  topology: 'k8s-node',
  hosts: { node: { ruleset } },
  steps: [{ from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80, repeat: n, ...extra }],
});

/** The reference model standing in for the kernel, with the repetitions `wrong` picks observed as drops. */
async function stand(plan: CasePlan, wrong: (rep: number) => boolean): Promise<KernelSide> {
  const m = new MutantSide(plan, 'none');
  const first = plan.steps.find((s) => s.kind === 'probe')!.sports[0]!;
  const kernel: KernelSide = {
    apply: (h, t, f) => m.apply(h, t, f),
    applyNft: (h, t) => m.applyNft(h, t),
    wait: (s) => m.wait(s),
    command: (c, f) => m.command(c, f),
    probe: async (p, o) => {
      const k = await m.probe(p, o);
      return wrong(p.sport! - first) ? { ...k, outcome: 'dropped', responder: null, seen: null } : k;
    },
  };
  await loadRulesets(plan, kernel);
  return kernel;
}

async function onlyStep(plan: CasePlan, kernel: KernelSide) {
  acceptedRulesets(plan);
  const out = [];
  for await (const r of pairedRun(plan, { kernel, judges: judgesFor(plan) })) out.push(r);
  return out[0]!;
}

test('a step repeated 600 times keeps KEEP_FIRST + KEEP_NOTABLE repetitions at most and judges all', async () => {
  const plan = await planCase(caseOf(600, DNAT, { expect: { outcome: 'delivered', responder: 'pod1' } }));
  // a late divergence (repetition 451) is judged, kept and counted
  const r = await onlyStep(plan, await stand(plan, (i) => i === 450));
  expect(r.repetitions).toBe(600);
  expect(r.model.length).toBeLessThanOrEqual(KEEP_FIRST + KEEP_NOTABLE);
  expect(r.kernel!.length).toBe(r.model.length);
  expect(r.shown.slice(0, KEEP_FIRST)).toEqual([...Array(KEEP_FIRST).keys()]);
  expect(r.shown).toContain(450);
  expect(r.kernel![r.shown.indexOf(450)]!.outcome).toBe('dropped');
  expect(r.tally.kernel).toEqual({ 'delivered pod1': 599, 'dropped -': 1 });
  expect(r.tally.model).toEqual({ 'delivered pod1': 600 });
  expect(r.tally.differing).toBe(1);
  expect(r.findings.some((f) => f.judge === 'difference' && f.diff.field === 'outcome')).toBe(true);
  expect(r.findings.some((f) => f.judge === 'expectation' && f.side === 'kernel')).toBe(true);
  expect(r.findings.some((f) => f.judge === 'expectation' && f.side === 'model')).toBe(false);
});

test('every repetition differing: the lists stay bounded and the tally counts them all', async () => {
  const plan = await planCase(caseOf(400, DNAT));
  const r = await onlyStep(plan, await stand(plan, (i) => i >= 100));
  expect(r.tally.differing).toBe(300);
  expect(r.model.length).toBe(KEEP_FIRST + KEEP_NOTABLE);
  expect(r.shown.slice(KEEP_FIRST)).toEqual([...Array(KEEP_NOTABLE).keys()].map((i) => 100 + i));
  const diffs = r.findings.filter((f) => f.judge === 'difference');
  expect(diffs.length).toBeGreaterThan(0);
  expect(diffs.length).toBeLessThanOrEqual(MAX_LISTED);
});

test('the chi-square judge counts every repetition, not only the kept ones', async () => {
  // the stand-in always takes the most likely branch: 300 of 300 on one pod, where the model says half
  const plan = await planCase(caseOf(300, SPLIT, { distribution: true }));
  const r = await onlyStep(plan, await stand(plan, () => false));
  expect(Object.values(r.tally.kernel).reduce((a, b) => a + b, 0)).toBe(300);
  const chi = r.findings.find((f) => f.judge === 'chi-square');
  expect(chi?.judge === 'chi-square' && chi.diff.kernel).toMatchObject({ 'delivered pod1': 300 });
  expect(r.tally.model['delivered pod1']).toBeCloseTo(150, 6);
});

test("a report lists a bounded sample with each entry's repetition, and the tally of all", async () => {
  const [rep] = await runCases([caseOf(200, DNAT, { expect: { outcome: 'delivered', responder: 'pod1' } })], {
    sides: 'model',
  });
  const s = rep!.steps[0]!;
  expect(rep!.model).toBe('pass');
  expect(s.repetitions).toBe(200);
  expect(s.model).toHaveLength(KEEP_FIRST);
  expect(s.sports).toHaveLength(KEEP_FIRST);
  expect(s.shown).toEqual([...Array(KEEP_FIRST).keys()]);
  expect(s.tally?.model).toEqual({ 'delivered pod1': 200 });
  // few repetitions: all of them, and no `shown`
  const [small] = await runCases([caseOf(3, DNAT)], { sides: 'model' });
  expect(small!.steps[0]!.model).toHaveLength(3);
  expect(small!.steps[0]!.shown).toBeUndefined();
});
