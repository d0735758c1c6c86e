// Runs case files on the model, the kernel, or both, and judges them against
// their expectations and against each other. Kernel labs are reused across
// cases with the same topology (reset, not rebuilt).
import {
  makeLab,
  KERNEL,
  type Semantics,
  newWorld,
  runProbe,
  isInputError,
  formatIp,
  parseIp,
  sourceFor,
  type IptablesFlavor,
  type Observation,
  type Weighted,
  type Probe,
  type TopologySpec,
  type ProbeRun,
} from '../model/index.ts';
import type { Sides } from './sides.ts';
import { PairedLab } from './paired-lab.ts';
import type { LabOptions } from '../lab/kernel-lab.ts';
import type { CaseFile, ProbeStep } from './case-file.ts';
import { misses } from './expect.ts';
import { chiSquare } from './chisq.ts';
import type { FieldDiff } from './compare.ts';
import { readCluster, type Cluster } from '../kube/objects.ts';
import type { Implementation } from './impl.ts';
import type { CompilerMutant } from '../kube/mutants.ts';
import { predict, K8S_NODE_LAYOUT } from '../kube/oracle.ts';
import { modelMiss, kernelMiss } from './oracle-compare.ts';
import { modelCommand } from './case-commands.ts';
import {
  planCase,
  acceptedRulesets,
  modelRulesets,
  probeCount,
  probeSteps,
  FIRST_PORT,
  LAST_PORT,
  type CasePlan,
} from './plan.ts';

/** Significance of the distribution check: a correct model fails it once in 10,000 runs (spec/equivalence.md §3). */
export const DISTRIBUTION_ALPHA = 1e-4;
const category = (o: Observation) => `${o.outcome} ${o.responder ?? '-'}`;

export type { Sides } from './sides.ts';
export { FIRST_PORT, withServices, withIptables } from './plan.ts';
export type Mark = 'pass' | 'fail' | 'skip';

export interface StepReport {
  /** disagreements with the Service-level oracle (cases with "services") */
  oracleMisses: string[];
  /** the source port of each repetition (the same on every backend) */
  sports: number[];
  label: string;
  probe?: Probe;
  model: Weighted<Observation>[][];
  kernel: Observation[];
  modelMisses: string[];
  kernelMisses: string[];
  diffs: FieldDiff[];
  /** the model trace of the first repetition, for explanations */
  trace?: ProbeRun['trace'];
}

export interface CaseReport {
  /** the Service-level oracle agreed with the backends that ran ('skip' without "services") */
  oracle: Mark;
  name: string;
  file: string | undefined;
  tags: string[];
  model: Mark;
  kernel: Mark;
  agree: Mark;
  skipReason?: string;
  error?: string;
  steps: StepReport[];
  ms: number;
}

/** The model alone: each possibility is checked; the world follows the most likely branch. */
/** A probe's own input error (`<probe>`: too many branches, ...) named by its case file and step. */
function inStep<T>(plan: CasePlan, index: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isInputError(e) && e.pos?.file === '<probe>' && plan.file)
      throw e.at({ file: plan.file, line: 0, col: 0, jsonPath: ['steps', index] });
    throw e;
  }
}

function runModel(plan: CasePlan): StepReport[] {
  const rulesets = modelRulesets(plan.rulesets);
  const second = modelRulesets(plan.otherRulesets);
  let lab = makeLab(plan.network, rulesets, second);
  let world = newWorld(lab);
  return plan.steps.map((s): StepReport => {
    const rep: StepReport = {
      label: s.label,
      model: [],
      kernel: [],
      modelMisses: [],
      kernelMisses: [],
      diffs: [],
      oracleMisses: [],
      sports: [],
    };
    if (s.kind === 'wait') {
      world = { ...world, now: world.now + s.seconds };
      return rep;
    }
    if (s.kind === 'command') {
      const out = modelCommand(s.command, rulesets, world, plan.file ?? plan.name);
      if (s.command.type === 'iptables') {
        const refused = Object.values(out).filter((x): x is string => x !== null);
        if (s.command.expectRefused && !refused.length) rep.modelMisses.push('every command ran, expected a refusal');
        if (!s.command.expectRefused) rep.modelMisses.push(...refused);
        lab = makeLab(plan.network, rulesets, second);
      }
      return rep;
    }
    if (s.kind === 'apply') {
      let refused = false;
      for (const r of s.rulesets) {
        if (r.parsed) rulesets.set(r.host, r.parsed);
        else {
          refused = true;
          if (!s.expectRefused) rep.modelMisses.push(`ruleset for ${r.host} refused: ${r.refusal!.message}`);
        }
      }
      if (s.expectRefused && !refused) rep.modelMisses.push('the ruleset was accepted, expected a refusal');
      lab = makeLab(plan.network, rulesets, second);
      return rep;
    }
    rep.probe = s.probe;
    const perRepeat: string[][] = [];
    for (const [r, sport] of s.sports.entries()) {
      const p = { ...s.probe, sport };
      rep.sports.push(sport);
      const res = inStep(plan, s.index, () => runProbe(lab, world, p));
      if (r === 0 && res[0]) rep.trace = res[0].value.trace;
      const obs = res.map((x) => ({ p: x.p, value: x.value.observation }));
      rep.model.push(obs);
      if (s.expect) perRepeat.push(expectOver(obs, s.expect));
      world = [...res].sort((a, b) => b.p - a.p)[0]!.value.world;
    }
    rep.modelMisses = combine(perRepeat, s.expect?.mode);
    if (s.expect?.sticky) {
      // after the first connection the model must have no choice left, and follow the same endpoint
      const later = rep.model.slice(1);
      const open = later.findIndex((d) => new Set(d.map((x) => x.value.responder)).size > 1);
      if (open >= 0)
        rep.modelMisses.push(
          `repetition ${open + 2} may still go to ${[...new Set(later[open]!.map((x) => x.value.responder))].join(' or ')}: nothing sticks`,
        );
      const firsts = new Set(rep.model.map((d) => [...d].sort((a, b) => b.p - a.p)[0]?.value.responder ?? null));
      if (firsts.size > 1) rep.modelMisses.push(`responders changed across repetitions: ${[...firsts].join(', ')}`);
    }
    return rep;
  });
}

/** "all": every repetition must meet the expectation; "any": one repetition is enough. */
function combine(perRepeat: string[][], mode: 'all' | 'any' | undefined): string[] {
  if (mode === 'any') return perRepeat.some((m) => m.length === 0) ? [] : [...new Set(perRepeat.flat())].slice(0, 3);
  return [...new Set(perRepeat.flat())];
}

function expectOver(possible: Weighted<Observation>[], exp: NonNullable<ProbeStep['expect']>): string[] {
  const each = possible.map((o) => misses(o.value, exp));
  if (exp.mode === 'any')
    return each.some((m) => m.length === 0) ? [] : [`no possible result meets the expectation: ${each[0]!.join('; ')}`];
  // "all": every possible result must meet it
  return each.flatMap((m, i) =>
    m.map((x) => (possible.length > 1 ? `${x} (possibility p=${possible[i]!.p.toFixed(3)})` : x)),
  );
}

/** Keeps one kernel lab per topology and resets it between cases. */
export class LabPool {
  private current: { key: string; lab: PairedLab } | undefined;
  /**
   * Cases sharing a lab get disjoint source ports: a server keeps TIME_WAIT for a
   * closed connection, and a new SYN on the same 4-tuple meets it (measured:
   * the kernel then diverged from a model that assumes fresh connections).
   */
  private nextPort = FIRST_PORT;

  reservePorts(n: number): number {
    if (this.nextPort + n > LAST_PORT) this.nextPort = FIRST_PORT;
    const base = this.nextPort;
    this.nextPort += n;
    return base;
  }

  constructor(private readonly labOptions: LabOptions = {}) {}

  /** `fresh`: a new lab, not a reset one (mixed-backend cases: legacy tables stay registered once used) */
  /** the model side's semantics in every lab this pool hands out (a model mutant's, for `npm run mutants -- --model`) */
  semantics: Semantics = KERNEL;

  async get(topo: TopologySpec, opts: { fresh?: boolean } = {}): Promise<PairedLab> {
    const lab = await this.labFor(topo, opts);
    lab.useSemantics(this.semantics);
    return lab;
  }

  private async labFor(topo: TopologySpec, opts: { fresh?: boolean }): Promise<PairedLab> {
    if (this.current?.lab.kernel.tainted || opts.fresh) await this.close();
    const key = JSON.stringify(topo);
    if (this.current?.key === key) {
      await this.current.lab.reset();
      return this.current.lab;
    }
    if (this.current) {
      try {
        // same hosts and links, other settings: change them in place
        await this.current.lab.reset();
        await this.current.lab.reconfigure(topo);
        this.current.key = key;
        return this.current.lab;
      } catch {
        /* a different topology: rebuild */
      }
    }
    await this.close();
    const lab = await PairedLab.up(topo, this.labOptions);
    this.current = { key, lab };
    return lab;
  }

  async close(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.lab.down();
  }
}

async function runKernel(plan: CasePlan, pool: LabPool, steps: StepReport[]): Promise<void> {
  const lab = await pool.get(plan.topology, { fresh: plan.freshLab });
  for (const r of plan.rulesets) {
    const a = await lab.apply(r.host, r.kernelText);
    if (!a.kernelOk)
      throw new Error(`the kernel refused the ruleset for ${r.host} that the model accepted: ${a.kernelError}`);
  }
  // then the other flavor's rules: registered later, they run first at equal priority (spec/semantics.md §2.3)
  for (const r of plan.otherRulesets) {
    const a = await lab.applyOther(r.host, r.parsed!, r.kernelText);
    if (!a.kernelOk)
      throw new Error(
        `the kernel refused the other backend's rules for ${r.host} that the model accepted: ${a.kernelError}`,
      );
  }
  for (const s of plan.steps) {
    const rep = steps[s.index]!;
    if (s.kind === 'wait') {
      await lab.wait(s.seconds);
      continue;
    }
    if (s.kind === 'command') {
      const { model, kernel } = await lab.command(s.command, plan.file ?? plan.name);
      if (s.command.type === 'iptables') {
        for (const h of Object.keys(kernel))
          if ((model[h] === null) !== (kernel[h] === null) || commandNo(model[h]) !== commandNo(kernel[h]))
            rep.diffs.push({ field: `iptables.${h}`, model: model[h] ?? 'ran', kernel: kernel[h] ?? 'ran' });
        const refused = Object.values(kernel).filter((x): x is string => x !== null);
        if (s.command.expectRefused && !refused.length) rep.kernelMisses.push('every command ran, expected a refusal');
        if (!s.command.expectRefused) rep.kernelMisses.push(...refused.map((x) => `the kernel: ${x}`));
      }
      continue;
    }
    if (s.kind === 'apply') {
      let refused = false;
      for (const r of s.rulesets) {
        const a = await lab.apply(r.host, r.kernelText);
        if (!a.kernelOk) refused = true;
        if (a.kernelOk !== a.modelOk)
          rep.diffs.push({
            field: `apply.${r.host}`,
            model: a.modelOk ? 'accepted' : `refused: ${a.modelError}`,
            kernel: a.kernelOk ? 'accepted' : `refused: ${a.kernelError}`,
          });
      }
      if (s.expectRefused && !refused) rep.kernelMisses.push('the kernel accepted the ruleset, expected a refusal');
      if (!s.expectRefused && refused) rep.kernelMisses.push('the kernel refused the ruleset');
      continue;
    }
    const perRepeat: string[][] = [];
    for (const sport of s.sports) {
      const res = await lab.probe({ ...s.probe, sport });
      rep.kernel.push(res.kernel);
      if (s.expect) perRepeat.push(misses(res.kernel, s.expect));
      rep.diffs.push(...res.verdict.diffs);
    }
    rep.kernelMisses = combine(perRepeat, s.expect?.mode);
    if (s.expect?.sticky && new Set(rep.kernel.map((k) => k.responder)).size > 1)
      rep.kernelMisses.push(`responders changed across repetitions: ${rep.kernel.map((k) => k.responder).join(', ')}`);
    if (s.distribution && rep.model[0]) {
      const expected = new Map<string, number>();
      for (const m of rep.model[0]) expected.set(category(m.value), (expected.get(category(m.value)) ?? 0) + m.p);
      const observed = new Map<string, number>();
      for (const k of rep.kernel) observed.set(category(k), (observed.get(category(k)) ?? 0) + 1);
      const x = chiSquare(observed, expected);
      if (x.impossible.length)
        rep.diffs.push({
          field: 'distribution',
          model: Object.fromEntries(expected),
          kernel: Object.fromEntries(observed),
        });
      else if (x.pValue < DISTRIBUTION_ALPHA) {
        rep.diffs.push({
          field: 'distribution',
          model: Object.fromEntries(expected),
          kernel: { ...Object.fromEntries(observed), chiSquare: Number(x.statistic.toFixed(2)), pValue: x.pValue },
        });
      }
    }
  }
}

/** "command 3 refused: ..." -> 3: which command a side refused (the messages differ) */
const commandNo = (x: string | null | undefined) => (x ? /^command (\d+)/.exec(x)?.[1] : undefined);

export interface RunOptions {
  /** compile Services with a deliberately wrong compiler (`npm run mutants`) */
  mutant?: CompilerMutant;
  /** the implementation that compiles Services (default: the built-in compiler, or `mutant`) */
  impl?: Implementation;
  sides: Sides;
  /** run every host's rules with this iptables backend, whatever the case says */
  iptables?: IptablesFlavor;
  /** a lab pool to reuse (the caller closes it); otherwise one is made with `lab` and closed */
  pool?: LabPool;
  lab?: LabOptions;
  /** why kernel runs cannot happen here (not root, ...), if so */
  kernelSkip?: string;
  onCase?: (r: CaseReport, index: number) => void;
  onStart?: (c: CaseFile, index: number) => void;
}

export async function runCases(cases: readonly CaseFile[], opts: RunOptions): Promise<CaseReport[]> {
  const pool = opts.pool ?? new LabPool(opts.lab);
  const out: CaseReport[] = [];
  try {
    for (const [i, c0] of cases.entries()) {
      opts.onStart?.(c0, i);
      const t0 = performance.now();
      const rep: CaseReport = {
        name: c0.name,
        file: c0.file,
        tags: c0.tags ?? [],
        model: 'skip',
        kernel: 'skip',
        agree: 'skip',
        oracle: 'skip',
        steps: [],
        ms: 0,
      };
      try {
        const firstPort = opts.sides === 'model' ? FIRST_PORT : pool.reservePorts(probeCount(c0));
        const plan = await planCase(c0, {
          firstPort,
          ...(opts.impl ? { impl: opts.impl } : {}),
          ...(opts.mutant ? { mutant: opts.mutant } : {}),
          ...(opts.iptables ? { iptables: opts.iptables } : {}),
        });
        acceptedRulesets(plan);
        rep.steps = runModel(plan);
        if (opts.sides !== 'kernel') rep.model = rep.steps.some((s) => s.modelMisses.length) ? 'fail' : 'pass';
        if (opts.sides !== 'model') {
          if (opts.kernelSkip) rep.skipReason = opts.kernelSkip;
          else {
            await runKernel(plan, pool, rep.steps);
            rep.kernel = rep.steps.some((s) => s.kernelMisses.length) ? 'fail' : 'pass';
            if (opts.sides === 'both') rep.agree = rep.steps.some((s) => s.diffs.length) ? 'fail' : 'pass';
          }
        }
        if (plan.services) {
          judgeOracle(plan, rep.steps, opts.sides);
          rep.oracle = rep.steps.some((s) => s.oracleMisses.length) ? 'fail' : 'pass';
        }
      } catch (e) {
        if (!isInputError(e) && !(e instanceof Error)) throw e;
        rep.error = (e as Error).message;
        if (isInputError(e)) throw e;
        rep.kernel = 'fail';
      }
      rep.ms = performance.now() - t0;
      out.push(rep);
      opts.onCase?.(rep, i);
    }
  } finally {
    if (!opts.pool) await pool.close();
  }
  return out;
}

/** The model's distribution must be the oracle's; each kernel observation one of its results. */
function judgeOracle(plan: CasePlan, steps: StepReport[], sides: Sides): void {
  const svc = plan.services!;
  const layout = {
    ...K8S_NODE_LAYOUT,
    clusterCIDR: svc.clusterCIDR,
    ...(svc.masqueradeAll ? { masqueradeAll: true } : {}),
    ...(svc.localhostNodePorts ? { localhostNodePorts: true } : {}),
  };
  const clusters = new Map<string, Cluster>();
  const clusterOf = (text: string) =>
    clusters.get(text) ?? clusters.set(text, readCluster(text, svc.file, { strict: true })).get(text)!;
  for (const s of probeSteps(plan)) {
    if (s.oracleCluster === undefined) continue;
    const rep = steps[s.index]!;
    const src = s.probe.src ?? formatIp(sourceFor(plan.network.hosts.get(s.probe.from)!, parseIp(s.probe.dst)!) ?? 0);
    const want = predict(clusterOf(s.oracleCluster), layout, s.probe, src);
    if (!want) continue;
    if (sides !== 'kernel') {
      for (const [r, dist] of rep.model.entries()) {
        const miss = modelMiss(want, dist, src, rep.sports[r]);
        if (miss) rep.oracleMisses.push(miss);
      }
    }
    for (const [r, k] of rep.kernel.entries()) {
      const miss = kernelMiss(want, k, src, rep.sports[r]);
      if (miss) rep.oracleMisses.push(miss);
    }
    rep.oracleMisses = [...new Set(rep.oracleMisses)];
  }
}
