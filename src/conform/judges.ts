// The judges: pure functions of (planned step, step result) that return typed findings
// (spec/equivalence.md). Reports, JUnit, JSON, fuzz and the known-divergence registry read these fields.
import {
  formatIp,
  parseIp,
  parseCidr,
  cidrContains,
  sourceFor,
  type Observation,
  type Weighted,
} from '../model/index.ts';
import { readCluster, type Cluster } from '../kube/objects.ts';
import { predict, K8S_NODE_LAYOUT } from '../kube/oracle.ts';
import type { ProbeStep } from './case-file.ts';
import { judge, type FieldDiff } from './compare.ts';
import { chiSquare } from './chisq.ts';
import { misses } from './expect.ts';
import { modelMiss, kernelMiss } from './oracle-compare.ts';
import type { CasePlan, PlannedStep, ProbePlan } from './plan.ts';
import type { StepResult } from './paired-run.ts';

const holdsLoopback = (g: string): boolean => g !== 'primary' && cidrContains(parseCidr(g)!, parseIp('127.0.0.1')!);

export type Side = 'model' | 'kernel';

export type Finding =
  /** the case's expectation is not met by one side */
  | { judge: 'expectation'; side: Side; text: string }
  /** the Service-level oracle disagrees with one side (cases with "services") */
  | { judge: 'oracle'; side: Side; text: string }
  /** the kernel's observation is none of the model's possibilities, or they differ on a refusal */
  | { judge: 'difference'; diff: FieldDiff }
  /** the kernel's counts do not fit the model's probabilities */
  | { judge: 'chi-square'; diff: FieldDiff }
  /** the model's result hinges on rules it cannot evaluate (spec/semantics.md §10): with a kernel, the kernel's
   *  observation was one of the possible ones (an agreement, not an exact one); without, what is open */
  | { judge: 'indeterminate'; text: string };

export type Judge = (step: PlannedStep, result: StepResult) => Finding[];

/** Significance of the distribution check: a correct model fails it once in 10,000 runs (spec/equivalence.md §3). */
export const DISTRIBUTION_ALPHA = 1e-4;

const expectation = (side: Side, text: string): Finding => ({ judge: 'expectation', side, text });

/** "all": every repetition must meet the expectation; "any": one repetition is enough. */
function combine(perRepeat: string[][], mode: 'all' | 'any' | undefined): string[] {
  if (mode === 'any') return perRepeat.some((m) => m.length === 0) ? [] : [...new Set(perRepeat.flat())].slice(0, 3);
  return [...new Set(perRepeat.flat())];
}

/** An indeterminate possibility meets an expectation when one of its exact branches does (an open one may be
 *  anything): it is counted as indeterminate, never as a plain pass (judgeIndeterminate). */
function missesOf(o: Observation, exp: NonNullable<ProbeStep['expect']>): string[] {
  const ind = o.indeterminate;
  if (!ind) return misses(o, exp);
  if (ind.open) return [];
  const each = ind.possible.map((b) => missesOf(b, exp));
  return each.some((m) => m.length === 0) ? [] : (each[0] ?? []);
}

function expectOver(possible: Weighted<Observation>[], exp: NonNullable<ProbeStep['expect']>): string[] {
  const each = possible.map((o) => missesOf(o.value, exp));
  if (exp.mode === 'any')
    return each.some((m) => m.length === 0) ? [] : [`no possible result meets the expectation: ${each[0]!.join('; ')}`];
  // "all": every possible result must meet it
  return each.flatMap((m, i) =>
    m.map((x) => (possible.length > 1 ? `${x} (possibility p=${possible[i]!.p.toFixed(3)})` : x)),
  );
}

/** The case's expectations, on each side that ran. */
export const judgeExpectation: Judge = (step, r) => {
  const out: Finding[] = [];
  if (step.kind === 'apply') {
    const modelRefused = r.applied.some((a) => a.modelRefusal !== undefined);
    if (!step.expectRefused)
      for (const a of r.applied)
        if (a.modelRefusal !== undefined)
          out.push(expectation('model', `ruleset for ${a.host} refused: ${a.modelRefusal}`));
    if (step.expectRefused && !modelRefused)
      out.push(expectation('model', 'the ruleset was accepted, expected a refusal'));
    if (r.sides.kernel) {
      const refused = r.applied.some((a) => a.kernelRefusal !== undefined);
      if (step.expectRefused && !refused)
        out.push(expectation('kernel', 'the kernel accepted the ruleset, expected a refusal'));
      if (!step.expectRefused && refused) out.push(expectation('kernel', 'the kernel refused the ruleset'));
    }
    return out;
  }
  if (step.kind === 'command') {
    // iptables commands and recent writes: what each side refused (conntrack either runs or fails the lab); a
    // recent write is refused when no rule names its list
    if (step.command.type === 'conntrack' || !r.commanded) return out;
    const expectRefused = step.command.expectRefused;
    const refusals = (o: Record<string, string | null>) => Object.values(o).filter((x): x is string => x !== null);
    const model = refusals(r.commanded.model);
    if (expectRefused && !model.length) out.push(expectation('model', 'every command ran, expected a refusal'));
    if (!expectRefused) out.push(...model.map((t) => expectation('model', t)));
    if (r.commanded.kernel) {
      const kernel = refusals(r.commanded.kernel);
      if (expectRefused && !kernel.length) out.push(expectation('kernel', 'every command ran, expected a refusal'));
      if (!expectRefused) out.push(...kernel.map((t) => expectation('kernel', `the kernel: ${t}`)));
    }
    return out;
  }
  if (step.kind !== 'probe') return out;
  const exp = step.expect;
  {
    // the model always runs (its branch is the one the kernel is compared with); whether its column counts
    // is the report's business
    const model = combine(exp ? r.model.map((d) => expectOver(d, exp)) : [], exp?.mode);
    if (exp?.sticky) {
      // after the first connection the model must have no choice left, and follow the same endpoint
      const later = r.model.slice(1);
      const open = later.findIndex((d) => new Set(d.map((x) => x.value.responder)).size > 1);
      if (open >= 0)
        model.push(
          `repetition ${open + 2} may still go to` +
            ` ${[...new Set(later[open]!.map((x) => x.value.responder))].join(' or ')}: nothing sticks`,
        );
      const firsts = new Set(r.model.map((d, i) => d[r.followed[i]!]?.value.responder ?? null));
      if (firsts.size > 1) model.push(`responders changed across repetitions: ${[...firsts].join(', ')}`);
    }
    out.push(...model.map((t) => expectation('model', t)));
  }
  if (r.kernel) {
    const kernel = combine(exp ? r.kernel.map((k) => misses(k, exp)) : [], exp?.mode);
    if (exp?.sticky && new Set(r.kernel.map((k) => k.responder)).size > 1)
      kernel.push(`responders changed across repetitions: ${r.kernel.map((k) => k.responder).join(', ')}`);
    out.push(...kernel.map((t) => expectation('kernel', t)));
  }
  return out;
};

/** Model against kernel: each kernel observation must be one of the model's possibilities; a ruleset
 *  refused by one side must be refused by the other. */
export const judgeDifference: Judge = (step, r) => {
  if (!r.kernel) return [];
  if (step.kind === 'command') {
    // which command each side refused, per host (the messages differ)
    const c = r.commanded;
    if (!c?.kernel) return [];
    return Object.keys(c.kernel)
      .filter(
        (h) => (c.model[h] === null) !== (c.kernel![h] === null) || commandNo(c.model[h]) !== commandNo(c.kernel![h]),
      )
      .map((h) => ({
        judge: 'difference',
        diff: { field: `iptables.${h}`, model: c.model[h] ?? 'ran', kernel: c.kernel![h] ?? 'ran' },
      }));
  }
  if (step.kind === 'apply')
    return r.applied
      .filter((a) => (a.modelRefusal === undefined) !== (a.kernelRefusal === undefined))
      .map((a) => ({
        judge: 'difference',
        diff: {
          field: `apply.${a.host}`,
          model: a.modelRefusal === undefined ? 'accepted' : `refused: ${a.modelRefusal}`,
          kernel: a.kernelRefusal === undefined ? 'accepted' : `refused: ${a.kernelRefusal}`,
        },
      }));
  return r.kernel.flatMap((k, i) =>
    judge(r.model[i]!, k).diffs.map((diff): Finding => ({ judge: 'difference', diff })),
  );
};

/** What is open in the model's result: the possible outcomes and the rules that decide. */
function openText(o: Observation): string {
  const ind = o.indeterminate!;
  const rules = ind.decidedBy.map((r) => `${r.host} ${r.table} ${r.chain} #${r.rule} (${r.why})`).join('; ');
  return `${ind.outcomes.join(' or ')}, decided by ${rules}`;
}

/** Steps whose model result hinges on rules the model cannot evaluate: counted apart, never a silent pass. With
 *  a kernel, the kernel's observation was one of the possible ones (else judgeDifference reports it). */
export const judgeIndeterminate: Judge = (step, r) => {
  if (step.kind !== 'probe') return [];
  const out: Finding[] = [];
  r.model.forEach((dist, i) => {
    const k = r.kernel?.[i];
    if (k) {
      const v = judge(dist, k);
      if (v.indeterminate && v.matched)
        out.push({
          judge: 'indeterminate',
          text: `the kernel's ${k.outcome} is one of the model's possible results: ${openText(v.matched.value)}`,
        });
      return;
    }
    for (const d of dist)
      if (d.value.indeterminate) out.push({ judge: 'indeterminate', text: `model: ${openText(d.value)}` });
  });
  return [...new Map(out.map((f) => [JSON.stringify(f), f])).values()];
};

/** "command 3 refused: ..." -> 3: which command a side refused */
const commandNo = (x: string | null | undefined) => (x ? /^command (\d+)/.exec(x)?.[1] : undefined);

const category = (o: Observation) => `${o.outcome} ${o.responder ?? '-'}`;

/** With `distribution`: the kernel's outcome/responder counts against the model's first distribution. */
export const judgeDistribution: Judge = (step, r) => {
  if (step.kind !== 'probe' || !step.distribution || !r.kernel || !r.model[0]) return [];
  const expected = new Map<string, number>();
  for (const m of r.model[0]) expected.set(category(m.value), (expected.get(category(m.value)) ?? 0) + m.p);
  const observed = new Map<string, number>();
  for (const k of r.kernel) observed.set(category(k), (observed.get(category(k)) ?? 0) + 1);
  const x = chiSquare(observed, expected);
  if (x.impossible.length)
    return [
      {
        judge: 'chi-square',
        diff: { field: 'distribution', model: Object.fromEntries(expected), kernel: Object.fromEntries(observed) },
      },
    ];
  if (x.pValue < DISTRIBUTION_ALPHA)
    return [
      {
        judge: 'chi-square',
        diff: {
          field: 'distribution',
          model: Object.fromEntries(expected),
          kernel: { ...Object.fromEntries(observed), chiSquare: Number(x.statistic.toFixed(2)), pValue: x.pValue },
        },
      },
    ];
  return [];
};

/** The Service-level oracle (spec/kube.md §4): the model's distribution must be the oracle's; each kernel
 *  observation one of its results. Pure, given the plan (the Services in force, the topology). */
export function oracleJudge(plan: CasePlan): Judge {
  const svc = plan.services;
  if (!svc) return () => [];
  const layout = {
    ...K8S_NODE_LAYOUT,
    clusterCIDR: svc.clusterCIDR,
    ...(svc.localTrafficDetector === false ? { podTraffic: 'none' as const } : {}),
    ...(svc.masqueradeAll ? { masqueradeAll: true } : {}),
    // kube-proxy turns localhost NodePorts off when no --nodeport-addresses entry holds 127.0.0.1
    ...(svc.localhostNodePorts && (!svc.nodePortAddresses || svc.nodePortAddresses.some(holdsLoopback))
      ? { localhostNodePorts: true }
      : {}),
    ...(svc.nodePortAddresses ? { nodePortAddresses: svc.nodePortAddresses } : {}),
    proxyMode: plan.mode,
  };
  const clusters = new Map<string, Cluster>();
  const clusterOf = (text: string) =>
    clusters.get(text) ?? clusters.set(text, readCluster(text, svc.file, { strict: true })).get(text)!;
  return (step, r) => {
    if (step.kind !== 'probe' || step.oracleCluster === undefined) return [];
    const src = sourceOf(plan, step);
    const want = predict(clusterOf(step.oracleCluster), layout, step.probe, src);
    if (!want) return [];
    const out: string[] = [];
    const sides: Side[] = [];
    if (r.sides.model)
      for (const [i, dist] of r.model.entries()) {
        const miss = modelMiss(want, dist, src, step.sports[i]);
        if (miss && !out.includes(miss)) (out.push(miss), sides.push('model'));
      }
    for (const [i, k] of (r.kernel ?? []).entries()) {
      const miss = kernelMiss(want, k, src, step.sports[i]);
      if (miss && !out.includes(miss)) (out.push(miss), sides.push('kernel'));
    }
    return out.map((text, i) => ({ judge: 'oracle', side: sides[i]!, text }));
  };
}

/** The probe's source address: given, or the one the sending host picks for the destination. */
export const sourceOf = (plan: CasePlan, step: ProbePlan): string =>
  step.probe.src ?? formatIp(sourceFor(plan.network.hosts.get(step.probe.from)!, parseIp(step.probe.dst)!) ?? 0);

/** Every judge, in report order. */
export function judgesFor(plan: CasePlan): Judge[] {
  return [judgeExpectation, judgeDifference, judgeDistribution, judgeIndeterminate, oracleJudge(plan)];
}
