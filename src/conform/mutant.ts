// A second model with a planted bug, as the oracle: shows that the engine finds
// and shrinks a divergence without needing a kernel (the "planted bug" test).
import {
  makeLab,
  newWorld,
  runProbe,
  parseRuleset,
  isInputError,
  type Observation,
  type Weighted,
  type Ruleset,
} from '../model/index.ts';
import { compileTopology } from '../model/index.ts';
import { modelMutant, type Mutation } from '../model/index.ts';
import { caseTopology, isApply, isWait, type CaseFile } from './case-file.ts';
import { judge, type FieldDiff } from './compare.ts';

export interface StepDiff {
  step: string;
  diff: FieldDiff;
}

/** Runs the case on the reference model and on a mutant; the mutant plays the kernel. */
export function judgeAgainstMutant(c: CaseFile, mutation: Mutation | 'none'): { diffs: StepDiff[]; probes: number } {
  const topo = caseTopology(c);
  const net = compileTopology(topo);
  const rulesets = new Map<string, Ruleset>();
  try {
    for (const [h, s] of Object.entries(c.hosts ?? {}))
      if (s.ruleset !== undefined) rulesets.set(h, parseRuleset(s.ruleset));
  } catch (e) {
    if (isInputError(e)) return { diffs: [], probes: 0 };
    throw e;
  }
  const ref = makeLab(net, rulesets);
  const mut =
    mutation === 'none' ? makeLab(net, rulesets) : makeLab(net, rulesets, new Map(), modelMutant(mutation).semantics);
  let wr = newWorld(ref);
  let wm = newWorld(mut);
  const diffs: StepDiff[] = [];
  let probes = 0;
  let port = 41000;
  for (const [i, s] of c.steps.entries()) {
    if (isApply(s) || isWait(s)) continue;
    const p = s.sport !== undefined ? s : { ...s, sport: port++ };
    const r = runProbe(ref, wr, p);
    const m = runProbe(mut, wm, p);
    probes++;
    const refObs: Weighted<Observation>[] = r.map((x) => ({ p: x.p, value: x.value.observation }));
    for (const x of m) {
      const v = judge(refObs, x.value.observation);
      for (const d of v.diffs)
        diffs.push({ step: `#${i + 1} ${s.from} ${s.proto} ${s.dst}${s.dport ? `:${s.dport}` : ''}`, diff: d });
      if (v.diffs.length) break;
    }
    wr = [...r].sort((a, b) => b.p - a.p)[0]!.value.world;
    wm = [...m].sort((a, b) => b.p - a.p)[0]!.value.world;
  }
  return { diffs, probes };
}
