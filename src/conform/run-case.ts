// Runs case files on the model, the kernel, or both: each case is planned (plan.ts), run once by the paired
// loop (paired-run.ts) and judged (judges.ts); this file only turns findings into reports. Kernel labs are
// reused across cases with the same topology (reset, not rebuilt).
import {
  isInputError,
  commandArgs,
  type IptablesFlavor,
  type Observation,
  type Weighted,
  type Probe,
  type TopologySpec,
  type ProbeRun,
} from '../model/index.ts';
import type { Sides } from './sides.ts';
import { PairedLab } from './paired-lab.ts';
import type { KernelLab, LabOptions } from '../lab/kernel-lab.ts';
import type { PhaseTimes, BuildCause } from '../lab/profile.ts';
import type { CommandOutcome } from './case-commands.ts';
import type { CaseFile } from './case-file.ts';
import type { FieldDiff } from './compare.ts';
import type { Implementation } from './impl.ts';
import type { CompilerMutant } from '../kube/mutants.ts';
import type { ProxyMode } from '../kube/proxy-mode.ts';
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';
import {
  planCase,
  acceptedRulesets,
  modelUnsupported,
  probeCount,
  FIRST_PORT,
  LAST_PORT,
  type CasePlan,
  type CaseCommand,
  type ProbePlan,
} from './plan.ts';
import {
  pairedRun,
  loadRulesets,
  type KernelSide,
  type StepResult,
  type PairedRunOptions,
  type Tally,
} from './paired-run.ts';
import { judgesFor, type Finding } from './judges.ts';
import { InternalError, LabFailure } from './errors.ts';

export type { Sides } from './sides.ts';
export { FIRST_PORT, withServices, withIptables } from './plan.ts';
export { DISTRIBUTION_ALPHA } from './judges.ts';
export type Mark = 'pass' | 'fail' | 'skip';

export interface StepReport {
  /** disagreements with the Service-level oracle (cases with "services") */
  oracleMisses: string[];
  /** the source port of each repetition listed (the same on every side) */
  sports: number[];
  label: string;
  probe?: Probe;
  /** probe steps: how many repetitions ran; model, kernel and sports list at most KEEP_FIRST + KEEP_NOTABLE of
   *  them (paired-run.ts): the first ones, then the first ones a judge found something in */
  repetitions?: number;
  /** when not every repetition is listed: the (0-based) repetition of each entry of model, kernel and sports */
  shown?: number[];
  /** probe steps: outcome/responder counts over every repetition, and how many differed */
  tally?: Tally;
  model: Weighted<Observation>[][];
  kernel: Observation[];
  modelMisses: string[];
  kernelMisses: string[];
  diffs: FieldDiff[];
  /** the model's result hinges on rules it cannot evaluate (spec/semantics.md §10): what is open, or which
   *  possible result the kernel's was; agreements, but not exact ones */
  indeterminate: string[];
  /** the model trace of the first repetition, for explanations */
  trace?: ProbeRun['trace'];
}

/** A ruleset the kernel refused although the model accepted it (the case could not run on the kernel). */
export interface KernelRefusal {
  host: string;
  flavor: IptablesFlavor;
  stderr: string;
}

export interface CaseReport {
  /** the Service-level oracle agreed with the sides that ran ('skip' without "services") */
  oracle: Mark;
  name: string;
  file: string | undefined;
  tags: string[];
  model: Mark;
  kernel: Mark;
  agree: Mark;
  skipReason?: string;
  /** why the kernel side failed: a refused ruleset, or a lab failure */
  error?: string;
  kernelRefused?: KernelRefusal;
  steps: StepReport[];
  /** steps whose model result is indeterminate (spec/semantics.md §10) */
  indeterminate: number;
  ms: number;
}

/** Keeps one kernel lab per topology and resets it between cases. */
export class LabPool {
  private current: { key: string; lab: PairedLab } | undefined;
  /** with `spare`: a lab built in the background, ready for the next case that needs a new one (undefined:
   *  its build failed, and the case builds its own) */
  private spare: { key: string; lab: Promise<PairedLab | undefined> } | undefined;
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

  /** `spare`: once a case has needed a new lab, keep the next one built in the background (fuzz campaigns: a lab
   *  mostly waits on timeouts, so the build runs beside it rather than before the next case) */
  constructor(
    private readonly labOptions: LabOptions = {},
    private readonly poolOptions: { spare?: boolean } = {},
  ) {}

  /** where its labs' time goes (LabOptions.profile), if it keeps a profile */
  get profile(): PhaseTimes | undefined {
    return this.labOptions.profile;
  }

  /** Another pool with the same lab options (labs side by side: fuzz.ts). */
  sibling(): LabPool {
    return new LabPool(this.labOptions, this.poolOptions);
  }

  /** `fresh`: a lab as new for mixed-backend cases, on every host (true) or on the hosts listed (the ones a case
   *  mixes backends on): a new one, or a reset one in which those hosts' namespaces hold no iptables-legacy table
   *  (the only state a reset cannot undo that such a case depends on: KernelLab.legacyHosts) */
  async get(topo: TopologySpec, opts: { fresh?: boolean | readonly string[] } = {}): Promise<PairedLab> {
    const key = JSON.stringify(topo);
    const cur = this.current;
    let cause: BuildCause = 'first';
    if (cur) {
      const same = cur.key === key;
      cause = 'reset-failed';
      try {
        await cur.lab.reset();
        // a reset that cannot make it fresh (tainted: KernelLab.reset) means a new lab
        const legacy = cur.lab.kernel.legacyHosts;
        // the hosts the case needs as new that hold a legacy table: renewed in place, the rest of the lab kept
        const stale = opts.fresh === true ? [...legacy] : (opts.fresh || []).filter((h: string) => legacy.has(h));
        cause = cur.lab.kernel.taintCause ?? 'links';
        if (!cur.lab.kernel.tainted) {
          // same hosts and links, other settings: change them in place
          if (!same) {
            await cur.lab.reconfigure(topo);
            cur.key = key;
          }
          if (!stale.length) return cur.lab;
          cause = 'renew-failed';
          await cur.lab.kernel.renewHosts(stale);
          return cur.lab;
        }
      } catch (e) {
        if (same && cause !== 'renew-failed') throw e;
        /* a different topology, or hosts not renewed: rebuild */
      }
    }
    this.profile?.built(cause);
    const again = cur !== undefined;
    await this.closeCurrent();
    const lab = (await this.takeSpare(topo)) ?? (await PairedLab.up(topo, this.labOptions));
    this.current = { key, lab };
    // a pool that has needed a new lab once will again (mixed-backend cases, a taint): build it now
    if (this.poolOptions.spare && again && !this.spare)
      this.spare = { key, lab: PairedLab.up(topo, this.labOptions).catch(() => undefined) };
    return lab;
  }

  /** The spare lab, set to this topology's settings; undefined when there is none or its links differ. A spare
   *  has never held a rule: it is a fresh lab. */
  private async takeSpare(topo: TopologySpec): Promise<PairedLab | undefined> {
    const s = this.spare;
    this.spare = undefined;
    const lab = await s?.lab;
    if (!s || !lab) return undefined;
    if (s.key === JSON.stringify(topo)) return lab;
    try {
      await lab.reconfigure(topo);
      return lab;
    } catch {
      await lab.down();
      return undefined;
    }
  }

  private async closeCurrent(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.lab.down();
  }

  async close(): Promise<void> {
    const s = this.spare;
    this.spare = undefined;
    await Promise.all([this.closeCurrent(), s?.lab.then((l) => l?.down())]);
  }
}

export interface RunOptions {
  /** compile Services with a deliberately wrong compiler (`npm run mutants`) */
  mutant?: CompilerMutant;
  /** the implementation that compiles Services (default: the built-in compiler, or `mutant`) */
  impl?: Implementation;
  sides: Sides;
  /** run every host's rules with this iptables flavor, whatever the case says */
  iptables?: IptablesFlavor;
  /** kube-proxy's mode the cases' Services are compiled in (default iptables) */
  mode?: ProxyMode;
  /** nftables mode: the kube-proxy release whose table shape the Services are compiled in (default the newest) */
  kubeProxyVersion?: KubeProxyVersion;
  /** a lab pool to reuse (the caller closes it); otherwise one is made with `lab` and closed */
  pool?: LabPool;
  lab?: LabOptions;
  /** why kernel runs cannot happen here (not root, ...), if so */
  kernelSkip?: string;
  /** the model's probe (tests plant a crash here) */
  runProbe?: PairedRunOptions['runProbe'];
  /** the model side's semantics (a model mutant's, for `npm run mutants -- --model`) */
  semantics?: PairedRunOptions['semantics'];
  onCase?: (r: CaseReport, index: number) => void;
  onStart?: (c: CaseFile, index: number) => void;
}

/** The kernel lab as the paired loop's kernel side. */
export function labSide(lab: PairedLab): KernelSide {
  return {
    apply: (host, text, flavor) => lab.kernel.apply(host, text, flavor),
    applyNft: (host, text) => lab.kernel.applyNft(host, text),
    probe: (p, o) => lab.kernel.probe(p, o),
    wait: (seconds) => {
      const wait = () => new Promise<void>((r) => setTimeout(r, seconds * 1000));
      return lab.kernel.profile ? lab.kernel.profile.time('wait', wait) : wait();
    },
    command: (cmd, file) => kernelCommand(lab.kernel, cmd, file),
  };
}

/** A command between probes on the kernel. conntrack and recent writes must work (else the lab failed);
 *  iptables commands run one at a time, a host stopping at its first refusal, which is returned. */
async function kernelCommand(kernel: KernelLab, cmd: CaseCommand, file: string): Promise<CommandOutcome> {
  if (cmd.type === 'conntrack') {
    const r = await kernel.conntrackDelete(cmd.host, cmd.match);
    if (!r.ok) throw new LabFailure(new Error(`conntrack on ${cmd.host} failed: ${r.stderr}`));
    return {};
  }
  if (cmd.type === 'recent') {
    const line = cmd.op === 'flush' ? '/' : `${cmd.op === 'add' ? '+' : '-'}${cmd.addr}`;
    const r = await kernel.recentWrite(cmd.host, cmd.list, line);
    // no rule names the list: its /proc file is gone, a refusal as the model's (case-commands.ts)
    if (!r.ok && /ENOENT/.test(r.stderr)) return { [cmd.host]: `command 1 refused: ${r.stderr}` };
    if (!r.ok) throw new LabFailure(new Error(`/proc/net/xt_recent/${cmd.list} on ${cmd.host}: ${r.stderr}`));
    return { [cmd.host]: null };
  }
  const out: CommandOutcome = {};
  if (cmd.type === 'nft') {
    // one `nft -f -` per host: a transaction, all or nothing
    for (const h of cmd.hosts) {
      const r = await kernel.applyNft(h.host, h.text);
      out[h.host] = r.ok ? null : `nft -f refused: ${r.stderr}`;
    }
    return out;
  }
  for (const h of cmd.hosts) {
    out[h.host] = null;
    for (const [i, line] of h.lines.entries()) {
      const args = commandArgs(line, `${file}#${h.host}`, i + 1).map((t) => t.text);
      const r = await kernel.iptables(h.host, h.flavor, args);
      if (!r.ok) {
        out[h.host] = `command ${i + 1} refused: ${r.stderr}`;
        break;
      }
    }
  }
  return out;
}

/** One step's report: the loop's result and the judges' findings, read by field. */
export function stepReport(r: StepResult, findings: readonly Finding[] = r.findings): StepReport {
  const texts = (judge: 'expectation' | 'oracle', side: 'model' | 'kernel') =>
    findings.flatMap((f) => (f.judge === judge && f.side === side ? [f.text] : []));
  const rep: StepReport = {
    label: r.step.label,
    model: r.model,
    kernel: r.kernel ?? [],
    modelMisses: texts('expectation', 'model'),
    kernelMisses: texts('expectation', 'kernel'),
    diffs: findings.flatMap((f) => (f.judge === 'difference' || f.judge === 'chi-square' ? [f.diff] : [])),
    oracleMisses: [...texts('oracle', 'model'), ...texts('oracle', 'kernel')],
    indeterminate: findings.flatMap((f) => (f.judge === 'indeterminate' ? [f.text] : [])),
    sports: r.step.kind === 'probe' ? r.shown.map((i) => (r.step as ProbePlan).sports[i]!) : [],
  };
  if (r.step.kind === 'probe') {
    rep.probe = r.step.probe;
    rep.repetitions = r.repetitions;
    if (r.shown.length < r.repetitions) rep.shown = r.shown;
    rep.tally = r.tally;
  }
  if (r.traces[0]) rep.trace = r.traces[0];
  return rep;
}

/** Runs the plan through the paired loop; the judges fold each step as it runs. */
export async function runPlan(
  plan: CasePlan,
  opts: PairedRunOptions = {},
): Promise<{ results: StepResult[]; steps: StepReport[] }> {
  const results: StepResult[] = [];
  const steps: StepReport[] = [];
  for await (const r of pairedRun(plan, { ...opts, judges: judgesFor(plan) })) {
    results.push(r);
    steps.push(stepReport(r));
  }
  return { results, steps };
}

/** An error of the engine's own code, as an internal error naming the case. */
function internal(e: unknown, c: CaseFile): InternalError {
  const where = { case: c.file ?? c.name };
  return e instanceof InternalError ? e.with(where) : new InternalError('engine', e, where);
}

const mark = (failed: boolean): Mark => (failed ? 'fail' : 'pass');

/** One case: plan, run, judge. Bad input throws its InputError; a model or engine crash an InternalError;
 *  a lab failure or a refused ruleset marks the kernel side failed (spec/equivalence.md §5). */
export async function runCase(c0: CaseFile, opts: RunOptions, pool: LabPool): Promise<CaseReport> {
  const t0 = performance.now();
  let plan: CasePlan;
  try {
    const kernelWanted = opts.sides !== 'model' && !opts.kernelSkip;
    plan = await planCase(c0, {
      firstPort: kernelWanted ? pool.reservePorts(probeCount(c0)) : FIRST_PORT,
      ...(opts.impl ? { impl: opts.impl } : {}),
      ...(opts.mutant ? { mutant: opts.mutant } : {}),
      ...(opts.iptables ? { iptables: opts.iptables } : {}),
      ...(opts.mode ? { mode: opts.mode } : {}),
      ...(opts.kubeProxyVersion ? { kubeProxyVersion: opts.kubeProxyVersion } : {}),
    });
    acceptedRulesets(plan);
  } catch (e) {
    if (isInputError(e)) throw e;
    throw internal(e, c0);
  }
  const rep = await runPlanned(plan, opts, pool);
  rep.ms = performance.now() - t0;
  return rep;
}

/** A planned case (its initial rulesets accepted by the model) on the sides asked for. */
export async function runPlanned(
  plan: CasePlan,
  opts: Omit<RunOptions, 'pool' | 'lab'>,
  pool: LabPool,
): Promise<CaseReport> {
  const c0 = plan.case;
  const rep: CaseReport = {
    name: c0.name,
    file: c0.file,
    tags: c0.tags ?? [],
    model: 'skip',
    kernel: 'skip',
    agree: 'skip',
    oracle: 'skip',
    steps: [],
    indeterminate: 0,
    ms: 0,
  };
  const kernelWanted = opts.sides !== 'model' && !opts.kernelSkip;
  if (opts.sides !== 'model' && opts.kernelSkip) rep.skipReason = opts.kernelSkip;
  // Services compiled into nft the model reads only in part: the kernel and the oracle judge, the model's
  // column is skipped with the reason
  const modelGap = opts.sides !== 'kernel' ? modelUnsupported(plan) : undefined;
  if (modelGap) rep.skipReason = rep.skipReason ? `${rep.skipReason}; ${modelGap}` : modelGap;
  const modelSide = opts.sides !== 'kernel' && !modelGap;
  const base = {
    modelSide,
    ...(opts.runProbe ? { runProbe: opts.runProbe } : {}),
    ...(opts.semantics ? { semantics: opts.semantics } : {}),
  };
  try {
    let run: { steps: StepReport[] } | undefined;
    if (kernelWanted) {
      try {
        const lab = await pool.get(plan.topology, { fresh: plan.mixedHosts }).catch((e: unknown) => {
          throw new LabFailure(e);
        });
        const kernel = labSide(lab);
        const refused = (await loadRulesets(plan, kernel)).find((a) => a.kernelRefusal !== undefined);
        if (refused) {
          const other = plan.otherRulesets.some((r) => r.host === refused.host && r.flavor === refused.flavor);
          const what = refused.lang === 'nft' ? 'the nft ruleset' : other ? "the other backend's rules" : 'the ruleset';
          rep.kernelRefused = { host: refused.host, flavor: refused.flavor, stderr: refused.kernelRefusal! };
          rep.error =
            `the kernel refused ${what} for ${refused.host} that the model accepted: ` + refused.kernelRefusal!;
          rep.kernel = 'fail';
        } else {
          run = await runPlan(plan, { ...base, kernel, ...(pool.profile ? { profile: pool.profile } : {}) });
          rep.kernel = mark(run.steps.some((s) => s.kernelMisses.length));
          if (opts.sides === 'both' && modelSide) rep.agree = mark(run.steps.some((s) => s.diffs.length));
        }
      } catch (e) {
        if (!(e instanceof LabFailure)) throw e;
        rep.error = e.message;
        rep.kernel = 'fail';
        run = undefined;
      }
    }
    // without a kernel (or when it failed), the model alone
    run ??= await runPlan(plan, base);
    rep.steps = run.steps;
    rep.indeterminate = run.steps.filter((s) => s.indeterminate.length).length;
    if (modelSide) rep.model = mark(rep.steps.some((s) => s.modelMisses.length));
    if (plan.services && !rep.error) rep.oracle = mark(rep.steps.some((s) => s.oracleMisses.length));
  } catch (e) {
    if (isInputError(e)) throw e;
    throw internal(e, c0);
  }
  return rep;
}

export async function runCases(cases: readonly CaseFile[], opts: RunOptions): Promise<CaseReport[]> {
  const pool = opts.pool ?? new LabPool(opts.lab);
  const out: CaseReport[] = [];
  try {
    for (const [i, c] of cases.entries()) {
      opts.onStart?.(c, i);
      const rep = await runCase(c, opts, pool);
      out.push(rep);
      opts.onCase?.(rep, i);
    }
  } finally {
    if (!opts.pool) await pool.close();
  }
  return out;
}
