// A second model with a planted bug, as the oracle: shows that the engine finds
// and shrinks a divergence without needing a kernel (the "planted bug" test).
// It reads the same plan as every other consumer: rulesets, apply and wait steps, repetitions, source ports.
import {
  makeLab,
  newWorld,
  runProbe,
  modelMutant,
  type Observation,
  type Weighted,
  type Mutation,
} from '../model/index.ts';
import type { CaseFile } from './case-file.ts';
import { modelCommand } from './case-commands.ts';
import { judge, type FieldDiff } from './compare.ts';
import { planCase, modelRulesets, type CasePlan } from './plan.ts';

export interface StepDiff {
  step: string;
  diff: FieldDiff;
}

/** Runs the case on the reference model and on a mutant; the mutant plays the kernel. */
export async function judgeAgainstMutant(
  c: CaseFile,
  mutation: Mutation | 'none',
): Promise<{ diffs: StepDiff[]; probes: number }> {
  return judgePlanAgainstMutant(await planCase(c), mutation);
}

export function judgePlanAgainstMutant(
  plan: CasePlan,
  mutation: Mutation | 'none',
): { diffs: StepDiff[]; probes: number } {
  // a case whose rules the model refuses has nothing to compare between two models
  if ([...plan.rulesets, ...plan.otherRulesets].some((r) => r.refusal)) return { diffs: [], probes: 0 };
  const rulesets = modelRulesets(plan.rulesets);
  const second = modelRulesets(plan.otherRulesets);
  const labs = () => {
    const ref = makeLab(plan.network, rulesets, second);
    // a mutant is the kernel's semantics with one decision replaced (model/mutants.ts)
    const mut = mutation === 'none' ? ref : makeLab(plan.network, rulesets, second, modelMutant(mutation).semantics);
    return { ref, mut };
  };
  let { ref, mut } = labs();
  let wr = newWorld(ref);
  let wm = newWorld(mut);
  const diffs: StepDiff[] = [];
  let probes = 0;
  for (const s of plan.steps) {
    if (s.kind === 'wait') {
      wr = { ...wr, now: wr.now + s.seconds };
      wm = { ...wm, now: wm.now + s.seconds };
      continue;
    }
    if (s.kind === 'apply') {
      for (const r of s.rulesets) if (r.parsed) rulesets.set(r.host, r.parsed);
      ({ ref, mut } = labs());
      continue;
    }
    if (s.kind === 'command') {
      const file = plan.file ?? plan.name;
      modelCommand(s.command, rulesets, wr, file);
      if (s.command.type !== 'iptables') modelCommand(s.command, rulesets, wm, file);
      ({ ref, mut } = labs());
      continue;
    }
    for (const sport of s.sports) {
      const p = { ...s.probe, sport };
      const r = runProbe(ref, wr, p);
      const m = runProbe(mut, wm, p);
      probes++;
      const refObs: Weighted<Observation>[] = r.map((x) => ({ p: x.p, value: x.value.observation }));
      for (const x of m) {
        const v = judge(refObs, x.value.observation);
        for (const d of v.diffs) diffs.push({ step: s.label, diff: d });
        if (v.diffs.length) break;
      }
      wr = [...r].sort((a, b) => b.p - a.p)[0]!.value.world;
      wm = [...m].sort((a, b) => b.p - a.p)[0]!.value.world;
    }
  }
  return { diffs, probes };
}
