// The paired loop: the one run of a case. It walks the planned steps once, driving the model and, when asked,
// the kernel lab, step by step, and yields a typed result per step from ONE model run. When a kernel runs, the
// model's world follows the branch the kernel took (spec/equivalence.md §4); otherwise its most likely branch.
// Judges (judges.ts) turn each result into findings; nothing here decides pass or fail.
import {
  isInputError,
  makeLab,
  newWorld,
  runProbe,
  restoreOnto,
  restartTables,
  nftTransaction,
  followedNftOutcome,
  type IptablesFlavor,
  type Observation,
  type Probe,
  type ProbeRun,
  type TraceEvent,
  type Weighted,
  type World,
  type Semantics,
  pruneRecentLists,
} from '../model/index.ts';
import type { KernelObservation } from '../lab/kernel-lab.ts';
import type { PhaseTimes } from '../lab/profile.ts';
import { judge } from './compare.ts';
import { InternalError, LabFailure } from './errors.ts';
import { modelRulesets, modelNft, plannedLoads, type CaseCommand, type CasePlan, type PlannedStep } from './plan.ts';
import { modelCommand, type CommandOutcome } from './case-commands.ts';
import type { Finding, Judge } from './judges.ts';

/** What a run needs of a kernel: the lab (lab/kernel-lab.ts), or a stand-in such as a mutant model. */
export interface KernelSide {
  apply(host: string, text: string, flavor: IptablesFlavor): Promise<{ ok: boolean; stderr: string }>;
  /** `nft -f` of a native nft ruleset */
  applyNft(host: string, text: string): Promise<{ ok: boolean; stderr: string }>;
  probe(p: Probe, opts: { counters?: boolean }): Promise<KernelObservation>;
  wait(seconds: number): Promise<void>;
  /** a command between probes (spec/case-file.md); for iptables commands, the first one refused per host */
  command(cmd: CaseCommand, file: string): Promise<CommandOutcome>;
}

export interface AppliedRuleset {
  host: string;
  flavor: IptablesFlavor;
  /** the rules' language: iptables (in `flavor`) or native nft */
  lang: 'iptables' | 'nft';
  /** why the model refused it (undefined: accepted) */
  modelRefusal: string | undefined;
  /** why the kernel refused it (undefined: accepted, or no kernel) */
  kernelRefusal: string | undefined;
}

/** One repetition of a probe step, as the loop made it; judges fold these as they come (issue 17: a step keeps
 *  only a bounded sample of them, so n repetitions cost linear time and constant memory). */
export interface Repetition {
  /** 0-based */
  index: number;
  sport: number;
  /** the model's possibilities */
  model: Weighted<Observation>[];
  /** the possibility the model's world followed (the kernel's, else the most likely) */
  followed: number;
  /** undefined: no kernel ran */
  kernel: KernelObservation | undefined;
}

/** A repeated probe step keeps its first KEEP_FIRST repetitions in full, and after them at most KEEP_NOTABLE ones a
 *  judge found something in (the first ones): what reports list; every repetition is judged and tallied. */
export const KEEP_FIRST = 32;
export const KEEP_NOTABLE = 8;

/** A probe step's counts over all its repetitions, by `outcome responder` (the chi-square judge's categories). */
export interface Tally {
  /** the model's expected count: the sum of each repetition's probabilities */
  model: Record<string, number>;
  /** the kernel's observed count (empty: no kernel ran) */
  kernel: Record<string, number>;
  /** repetitions whose kernel observation was none of the model's possibilities */
  differing: number;
}

export interface StepResult {
  step: PlannedStep;
  sides: { model: boolean; kernel: boolean };
  /** probe steps: how many repetitions ran (the arrays below hold the kept ones: `shown`) */
  repetitions: number;
  /** the repetition index of each kept entry of model, followed, kernel (and traces with `traces: 'all'`) */
  shown: number[];
  /** probe steps: the model's possibilities for each kept repetition */
  model: Weighted<Observation>[][];
  /** the possibility the model's world followed, per kept repetition (the kernel's, else the most likely) */
  followed: number[];
  /** the kernel's observation per kept repetition (undefined: no kernel ran) */
  kernel: KernelObservation[] | undefined;
  /** counts over every repetition */
  tally: Tally;
  /** the model's trace of its first possibility: the first repetition's, or each kept one's with `traces: 'all'` */
  traces: TraceEvent[][];
  /** with `traces: 'all'`: the trace of every possibility, per kept repetition */
  allTraces: TraceEvent[][][];
  /** with `judges`: what they found (in the order given) */
  findings: Finding[];
  /** apply steps */
  applied: AppliedRuleset[];
  /** command steps: what each side refused (iptables commands), per host */
  commanded: { model: CommandOutcome; kernel: CommandOutcome | undefined } | undefined;
}

export interface PairedRunOptions {
  /** the kernel side; none: the model alone */
  kernel?: KernelSide;
  /** read which rules the kernel hit (iptables-save -c around each probe) */
  counters?: boolean;
  /** keep every repetition's trace, not only the first one's */
  traces?: 'first' | 'all';
  /** does the report count the model's column (the model runs anyway) */
  modelSide?: boolean;
  /** the model's probe (tests plant a crash here) */
  runProbe?: typeof runProbe;
  /** netfilter's semantics on the model side: the kernel's, or a model mutant's (`npm run mutants -- --model`) */
  semantics?: Semantics;
  /** books the model's time (`fuzz --profile`) */
  profile?: PhaseTimes;
  /** judges folding every repetition as it comes; the result's `findings` (a repetition they found something in
   *  is kept, up to KEEP_NOTABLE) */
  judges?: readonly Judge[];
}

const kernelDid = async <T>(what: () => Promise<T>): Promise<T> => {
  try {
    return await what();
  } catch (e) {
    throw e instanceof LabFailure ? e : new LabFailure(e);
  }
};

/** The model's step: its own input errors (a probe with too many branches) are bad input naming the case
 *  file and step (exit 2); anything else it throws is a bug (exit 3). */
const modelDid = <T>(plan: CasePlan, index: number, what: () => T, profile?: PhaseTimes): T => {
  try {
    return profile ? profile.timeSync('model', what) : what();
  } catch (e) {
    if (isInputError(e)) {
      if (e.pos?.file === '<probe>' && plan.file)
        throw e.at({ file: plan.file, line: 0, col: 0, jsonPath: ['steps', index] });
      throw e;
    }
    throw new InternalError('model', e);
  }
};

/** Loads the plan's rule sources on the kernel side in each host's load order (by default its own flavor, then
 *  the other one, then nft; at equal priority the later-registered run first: spec/semantics.md §2.3-§2.4).
 *  The refusals, in load order. */
export async function loadRulesets(plan: CasePlan, kernel: KernelSide): Promise<AppliedRuleset[]> {
  const out: AppliedRuleset[] = [];
  for (const l of plannedLoads(plan)) {
    const r = l.r;
    const k = await kernelDid(() =>
      l.kind === 'nft' ? kernel.applyNft(r.host, r.text) : kernel.apply(r.host, l.r.kernelText, l.r.flavor),
    );
    out.push({
      host: r.host,
      flavor: l.kind === 'nft' ? 'nft' : l.r.flavor,
      lang: l.kind === 'nft' ? 'nft' : 'iptables',
      modelRefusal: r.refusal?.message,
      kernelRefusal: k.ok ? undefined : k.stderr,
    });
  }
  return out;
}

/** The run: one result per planned step, in order. The plan's initial rulesets must be ones the model
 *  accepted (acceptedRulesets); the kernel side must already hold them (loadRulesets). */
export async function* pairedRun(plan: CasePlan, opts: PairedRunOptions = {}): AsyncGenerator<StepResult> {
  const probe = opts.runProbe ?? runProbe;
  const modelStep = <T>(index: number, what: () => T): T => modelDid(plan, index, what, opts.profile);
  const rulesets = modelRulesets(plan.rulesets);
  const second = modelRulesets(plan.otherRulesets);
  const native = { nft: modelNft(plan), order: plan.loadOrder };
  let lab = modelStep(-1, () => makeLab(plan.network, rulesets, second, opts.semantics, native));
  let world: World = modelStep(-1, () => newWorld(lab));
  const kernel = opts.kernel;
  const sides = { model: opts.modelSide ?? true, kernel: kernel !== undefined };
  for (const step of plan.steps) {
    const r: StepResult = {
      step,
      sides,
      repetitions: 0,
      shown: [],
      model: [],
      followed: [],
      kernel: kernel ? [] : undefined,
      tally: { model: {}, kernel: {}, differing: 0 },
      traces: [],
      allTraces: [],
      findings: [],
      applied: [],
      commanded: undefined,
    };
    const judging = (opts.judges ?? []).map((j) => j(step));
    if (step.kind === 'wait') {
      world = { ...world, now: world.now + step.seconds };
      if (kernel) await kernelDid(() => kernel.wait(step.seconds));
    } else if (step.kind === 'apply') {
      for (const rs of step.rulesets) {
        let k: { ok: boolean; stderr: string } | undefined;
        let modelRefusal = rs.refusal?.message;
        if (rs.lang === 'nft') {
          // nft text (Services recompiled in nftables mode) runs on the host's nft state, as `nft -f` does
          // (spec/kube.md §2a): what rules put in the sets it does not renew stays (ClientIP affinity)
          k = kernel ? await kernelDid(() => kernel.applyNft(rs.host, rs.kernelText)) : undefined;
          if (!rs.refusal) {
            const st = world.hosts.get(rs.host);
            const at = { file: `${rs.host}@nft`, now: world.now, probes: world.probes ?? 0 };
            const applied = modelStep(step.index, () =>
              followedNftOutcome(
                nftTransaction(native.nft.get(rs.host), st?.nftSets, rs.kernelText, at, st?.nftInc),
                k ? !k.ok : undefined,
              ),
            );
            modelRefusal = applied.refusal;
            native.nft.set(rs.host, applied.ruleset);
            if (st)
              world = {
                ...world,
                hosts: new Map(world.hosts).set(rs.host, { ...st, nftSets: applied.sets, nftInc: applied.inc }),
              };
          }
        } else {
          // only the tables the text names are replaced; a refused text keeps what it committed before the error
          const before = rulesets.get(rs.host);
          const next = restoreOnto(before, rs.text, rs.parsed, rs.refusal, { backend: rs.flavor });
          if (next) rulesets.set(rs.host, next);
          // each table it committed holds new rule instances: their nth counters start afresh
          if (next)
            restartTables(
              world,
              rs.host,
              [...next.tables].filter(([t, v]) => before?.tables.get(t) !== v).map(([t]) => t),
            );
          // a list no rule names any more is gone with its entries (xt_recent.c recent_mt_destroy)
          pruneRecentLists(world, rs.host, rulesets.get(rs.host));
          k = kernel ? await kernelDid(() => kernel.apply(rs.host, rs.kernelText, rs.flavor)) : undefined;
        }
        r.applied.push({
          host: rs.host,
          flavor: rs.lang === 'nft' ? 'nft' : rs.flavor,
          lang: rs.lang,
          modelRefusal,
          kernelRefusal: k && !k.ok ? k.stderr : undefined,
        });
      }
      lab = modelStep(step.index, () => makeLab(plan.network, rulesets, second, opts.semantics, native));
    } else if (step.kind === 'command') {
      const file = plan.file ?? plan.name;
      // the kernel first: where an element near its timeout decides an nft step, the model follows its answer
      const k = kernel ? await kernelDid(() => kernel.command(step.command, file)) : undefined;
      const model = modelStep(step.index, () => modelCommand(step.command, rulesets, world, file, native.nft, k));
      r.commanded = { model, kernel: k };
      if (step.command.type === 'iptables' || step.command.type === 'nft')
        lab = modelStep(step.index, () => makeLab(plan.network, rulesets, second, opts.semantics, native));
    } else {
      let notable = 0;
      for (const [i, sport] of step.sports.entries()) {
        const p: Probe = { ...step.probe, sport };
        const runs: Weighted<ProbeRun>[] = modelStep(step.index, () => probe(lab, world, p));
        const dist = runs.map((x) => ({ p: x.p, value: x.value.observation }));
        let follow = mostLikely(runs);
        let branch: number | undefined;
        let k: KernelObservation | undefined;
        if (kernel) {
          k = await kernelDid(() => kernel.probe(p, { ...(opts.counters ? { counters: true } : {}) }));
          // the model continues from the branch the kernel took (or its most likely one)
          const v = judge(dist, k);
          if (!v.matched) r.tally.differing++;
          const at = dist.findIndex((d) => d === v.matched);
          if (at >= 0) follow = at;
          // an indeterminate possibility: the world of the branch whose observation the kernel made
          branch = at >= 0 ? v.indeterminate?.branch : undefined;
        }
        const rep: Repetition = { index: i, sport, model: dist, followed: follow, kernel: k };
        tallyOf(r.tally, rep);
        // every judge sees every repetition (no short cut: each folds its own state)
        const found = judging.map((j) => j.repetition(rep)).some(Boolean);
        const keep = i < KEEP_FIRST || (found && notable < KEEP_NOTABLE);
        if (keep) {
          if (i >= KEEP_FIRST) notable++;
          r.shown.push(i);
          r.model.push(dist);
          r.followed.push(follow);
          if (k) r.kernel!.push(k);
          if (runs[0] && (i === 0 || opts.traces === 'all')) r.traces.push(runs[0].value.trace);
          if (opts.traces === 'all') r.allTraces.push(runs.map((x) => x.value.trace));
        }
        r.repetitions++;
        const run = runs[follow]!.value;
        world = (branch !== undefined ? run.branches?.[branch]?.world : undefined) ?? run.world;
      }
      // sums of probabilities: no float noise in the report
      for (const [c, n] of Object.entries(r.tally.model)) r.tally.model[c] = Math.round(n * 1e6) / 1e6;
    }
    r.findings = judging.flatMap((j) => j.end(r));
    yield r;
  }
}

/** The index of the most likely possibility (the first of equals). */
function mostLikely(runs: readonly Weighted<unknown>[]): number {
  let best = 0;
  for (let i = 1; i < runs.length; i++) if (runs[i]!.p > runs[best]!.p) best = i;
  return best;
}

/** The category a tally counts: outcome and responder. */
export const categoryOf = (o: Observation): string => `${o.outcome} ${o.responder ?? '-'}`;

function tallyOf(t: Tally, rep: Repetition): void {
  for (const m of rep.model) t.model[categoryOf(m.value)] = (t.model[categoryOf(m.value)] ?? 0) + m.p;
  if (rep.kernel) t.kernel[categoryOf(rep.kernel)] = (t.kernel[categoryOf(rep.kernel)] ?? 0) + 1;
}
