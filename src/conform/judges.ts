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
import { categoryOf, type Repetition, type StepResult } from './paired-run.ts';

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

/** A judge of one step: it folds a probe step's repetitions as they come (a step keeps only a bounded sample of
 *  them: paired-run.ts KEEP_FIRST), then gives its findings. */
export interface StepJudge {
  /** true: it found something in this repetition (the step then keeps it, within bounds) */
  repetition(rep: Repetition): boolean;
  end(result: StepResult): Finding[];
}

/** Judges are pure: a fold per step, from the planned step alone. */
export type Judge = (step: PlannedStep) => StepJudge;

/** Significance of the distribution check: a correct model fails it once in 10,000 runs (spec/equivalence.md §3). */
export const DISTRIBUTION_ALPHA = 1e-4;

/** The most findings of one kind a step lists (and the most repetitions' responders a sticky miss lists): a step
 *  repeated thousands of times says how many more there were instead. */
export const MAX_LISTED = 32;

const expectation = (side: Side, text: string): Finding => ({ judge: 'expectation', side, text });

/** Distinct texts in the order found, at most MAX_LISTED; the rest counted. */
class Texts {
  private readonly seen = new Set<string>();
  more = 0;
  add(t: string): void {
    if (this.seen.has(t)) return;
    if (this.seen.size < MAX_LISTED) this.seen.add(t);
    else this.more++;
  }
  get size(): number {
    return this.seen.size;
  }
  list(): string[] {
    return [...this.seen, ...(this.more ? [`... and ${this.more} more distinct ones`] : [])];
  }
}

/** Each repetition's misses, folded: "all": every repetition must meet the expectation (every distinct miss);
 *  "any": one repetition is enough (else the first three misses). */
class Misses {
  private readonly texts = new Texts();
  private met = false;
  constructor(private readonly mode: 'all' | 'any' | undefined) {}
  add(m: readonly string[]): boolean {
    if (m.length === 0) this.met = true;
    for (const t of m) this.texts.add(t);
    return m.length > 0;
  }
  list(): string[] {
    if (this.mode === 'any') return this.met ? [] : this.texts.list().slice(0, 3);
    return this.texts.list();
  }
}

/** A judge that looks at the step as a whole (apply and command steps), never at single repetitions. */
const whole =
  (f: (step: PlannedStep, r: StepResult) => Finding[]): Judge =>
  (step) => ({ repetition: () => false, end: (r) => f(step, r) });

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

function judgeRefusals(step: PlannedStep, r: StepResult): Finding[] {
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
  }
  return out;
}

/** The case's expectations, on each side that ran. */
export const judgeExpectation: Judge = (step) => {
  if (step.kind !== 'probe') return whole(judgeRefusals)(step);
  const exp = step.expect;
  const model = new Misses(exp?.mode);
  const kernel = new Misses(exp?.mode);
  // sticky: after the first connection the model must have no choice left, and follow the same endpoint
  let open: { at: number; responders: (string | null)[] } | undefined;
  const followed = new Set<string | null>();
  const responders = new Set<string | null>();
  const sequence: (string | null)[] = [];
  return {
    repetition(rep) {
      let found = false;
      // the model always runs (its branch is the one the kernel is compared with); whether its column counts
      // is the report's business
      if (exp) found = model.add(expectOver(rep.model, exp));
      if (exp?.sticky) {
        const rs = [...new Set(rep.model.map((x) => x.value.responder))];
        if (rep.index > 0 && rs.length > 1 && !open) ((open = { at: rep.index, responders: rs }), (found = true));
        followed.add(rep.model[rep.followed]?.value.responder ?? null);
      }
      if (rep.kernel) {
        if (exp && kernel.add(misses(rep.kernel, exp))) found = true;
        if (exp?.sticky) {
          if (responders.size && !responders.has(rep.kernel.responder)) found = true;
          responders.add(rep.kernel.responder);
          if (sequence.length < MAX_LISTED) sequence.push(rep.kernel.responder);
        }
      }
      return found;
    },
    end(r) {
      const m = model.list();
      if (open) m.push(`repetition ${open.at + 1} may still go to ${open.responders.join(' or ')}: nothing sticks`);
      if (followed.size > 1) m.push(`responders changed across repetitions: ${[...followed].join(', ')}`);
      const out = m.map((t) => expectation('model', t));
      if (r.kernel) {
        const k = kernel.list();
        if (responders.size > 1) {
          const more = r.repetitions > sequence.length ? `, ... (${r.repetitions} repetitions)` : '';
          k.push(`responders changed across repetitions: ${sequence.join(', ')}${more}`);
        }
        out.push(...k.map((t) => expectation('kernel', t)));
      }
      return out;
    },
  };
};

function judgeCommandDifference(step: PlannedStep, r: StepResult): Finding[] {
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
        diff: { field: `${step.command.type}.${h}`, model: c.model[h] ?? 'ran', kernel: c.kernel![h] ?? 'ran' },
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
  return [];
}

/** Model against kernel: each kernel observation must be one of the model's possibilities (the differences of
 *  the first MAX_LISTED, in order; the result's tally counts every differing repetition); a ruleset refused by
 *  one side must be refused by the other. */
export const judgeDifference: Judge = (step) => {
  if (step.kind !== 'probe') return whole(judgeCommandDifference)(step);
  const out: Finding[] = [];
  return {
    repetition(rep) {
      if (!rep.kernel) return false;
      const diffs = judge(rep.model, rep.kernel).diffs;
      for (const diff of diffs) if (out.length < MAX_LISTED) out.push({ judge: 'difference', diff });
      return diffs.length > 0;
    },
    end: () => out,
  };
};

/** What is open in the model's result: the possible outcomes and the rules that decide. */
function openText(o: Observation): string {
  const ind = o.indeterminate!;
  const rules = ind.decidedBy.map((r) => `${r.host} ${r.table} ${r.chain} #${r.rule} (${r.why})`).join('; ');
  return `${ind.outcomes.join(' or ')}, decided by ${rules}`;
}

/** Steps whose model result hinges on rules the model cannot evaluate: counted apart, never a silent pass. With
 *  a kernel, the kernel's observation was one of the possible ones (else judgeDifference reports it). */
export const judgeIndeterminate: Judge = (step) => {
  if (step.kind !== 'probe') return whole(() => [])(step);
  const texts = new Texts();
  return {
    repetition(rep) {
      const before = texts.size + texts.more;
      const k = rep.kernel;
      if (k) {
        const v = judge(rep.model, k);
        // the kernel matched an indeterminate possibility: one of its branches, or an open one with none behind it
        // (World.unfollowed: any outcome), which checked no more than the outcome's kind
        if (v.matched?.value.indeterminate)
          texts.add(`the kernel's ${k.outcome} is one of the model's possible results: ${openText(v.matched.value)}`);
      } else for (const d of rep.model) if (d.value.indeterminate) texts.add(`model: ${openText(d.value)}`);
      return texts.size + texts.more > before;
    },
    end: () => texts.list().map((text) => ({ judge: 'indeterminate', text })),
  };
};

/** "command 3 refused: ..." -> 3: which command a side refused */
const commandNo = (x: string | null | undefined) => (x ? /^command (\d+)/.exec(x)?.[1] : undefined);

/** With `distribution`: the kernel's outcome/responder counts (over every repetition) against the model's first
 *  distribution. */
export const judgeDistribution: Judge = whole((step, r) => {
  if (step.kind !== 'probe' || !step.distribution || !r.kernel || !r.model[0]) return [];
  const expected = new Map<string, number>();
  for (const m of r.model[0]) expected.set(categoryOf(m.value), (expected.get(categoryOf(m.value)) ?? 0) + m.p);
  const observed = new Map<string, number>(Object.entries(r.tally.kernel));
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
});

/** The Service-level oracle (spec/kube.md §4): the model's distribution must be the oracle's; each kernel
 *  observation one of its results. Pure, given the plan (the Services in force, the topology). */
export function oracleJudge(plan: CasePlan): Judge {
  const svc = plan.services;
  if (!svc) return whole(() => []);
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
  return (step) => {
    if (step.kind !== 'probe' || step.oracleCluster === undefined) return whole(() => [])(step);
    const src = sourceOf(plan, step);
    const want = predict(clusterOf(step.oracleCluster), layout, step.probe, src);
    if (!want) return whole(() => [])(step);
    const model = new Texts();
    const kernel = new Texts();
    return {
      repetition(rep) {
        const m = modelMiss(want, rep.model, src, rep.sport);
        const k = rep.kernel && kernelMiss(want, rep.kernel, src, rep.sport);
        if (m) model.add(m);
        if (k) kernel.add(k);
        return Boolean(m || k);
      },
      end(r) {
        // the same miss on both sides is listed once, as the model's
        const ms = r.sides.model ? model.list() : [];
        return [
          ...ms.map((text): Finding => ({ judge: 'oracle', side: 'model', text })),
          ...kernel
            .list()
            .flatMap((text): Finding[] => (ms.includes(text) ? [] : [{ judge: 'oracle', side: 'kernel', text }])),
        ];
      },
    };
  };
}

/** The probe's source address: given, or the one the sending host picks for the destination. */
export const sourceOf = (plan: CasePlan, step: ProbePlan): string =>
  step.probe.src ?? formatIp(sourceFor(plan.network.hosts.get(step.probe.from)!, parseIp(step.probe.dst)!) ?? 0);

/** Every judge, in report order. */
export function judgesFor(plan: CasePlan): Judge[] {
  return [judgeExpectation, judgeDifference, judgeDistribution, judgeIndeterminate, oracleJudge(plan)];
}
