// A second model with a planted bug, as the oracle: shows that the engine finds and shrinks a divergence
// without needing a kernel (the "planted bug" test). The mutant plays the kernel in the same paired loop as a
// real lab (paired-run.ts): the same plan, rulesets, apply and wait steps, repetitions and source ports.
import {
  nftTransaction,
  followedNftOutcome,
  type NftRuleset,
  makeLab,
  newWorld,
  runProbe,
  modelMutant,
  parseRuleset,
  restoreOnto,
  isInputError,
  type InputError,
  type Mutation,
  type IptablesFlavor,
  type Ruleset,
  type ModelLab,
  type World,
} from '../model/index.ts';
import type { CaseFile } from './case-file.ts';
import type { FieldDiff } from './compare.ts';
import { planCase, modelRulesets, type CasePlan, type CaseCommand } from './plan.ts';
import { modelCommand } from './case-commands.ts';
import { pairedRun, loadRulesets, type KernelSide } from './paired-run.ts';
import { judgeDifference } from './judges.ts';
import type { ProxyMode } from '../kube/proxy-mode.ts';
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';

export interface StepDiff {
  step: string;
  diff: FieldDiff;
}

/** A model with a planted bug behind the kernel side's interface: it answers with its most likely result. */
export class MutantSide implements KernelSide {
  private lab: ModelLab;
  private world: World;
  private readonly rulesets = new Map<string, Ruleset>();
  private readonly second: Map<string, Ruleset>;
  /** native nft rulesets arrive with applyNft, as on a kernel */
  private readonly nft = new Map<string, NftRuleset>();

  constructor(
    private readonly plan: CasePlan,
    private readonly mutation: Mutation | 'none',
  ) {
    this.second = modelRulesets(plan.otherRulesets);
    this.lab = this.make();
    this.world = newWorld(this.lab);
  }

  /** a mutant is the kernel's semantics with one decision replaced (model/mutants.ts) */
  private make(): ModelLab {
    const sem = this.mutation === 'none' ? undefined : modelMutant(this.mutation).semantics;
    return makeLab(this.plan.network, this.rulesets, this.second, sem, { nft: this.nft, order: this.plan.loadOrder });
  }

  async applyNft(host: string, text: string) {
    // on the host's nft state, as `nft -f` runs it; what rules put in the sets it keeps stays (spec/nft.md §8)
    const st = this.world.hosts.get(host);
    const at = { file: `${host}@nft`, now: this.world.now, probes: this.world.probes ?? 0 };
    const o = followedNftOutcome(nftTransaction(this.nft.get(host), st?.nftSets, text, at, st?.nftInc), undefined);
    this.nft.set(host, o.ruleset);
    if (st)
      this.world = {
        ...this.world,
        hosts: new Map(this.world.hosts).set(host, { ...st, nftSets: o.sets, nftInc: o.inc }),
      };
    this.lab = this.make();
    return o.refusal === undefined ? { ok: true, stderr: '' } : { ok: false, stderr: o.refusal };
  }

  async apply(host: string, text: string, flavor: IptablesFlavor) {
    // the plan's other-flavor rules are in `second` already
    if (this.plan.otherRulesets.some((r) => r.host === host && r.flavor === flavor)) return { ok: true, stderr: '' };
    let parsed: Ruleset | undefined;
    let refusal: InputError | undefined;
    try {
      parsed = parseRuleset(text, { backend: flavor });
    } catch (e) {
      if (!isInputError(e)) throw e;
      refusal = e;
    }
    // as iptables-restore: the tables named are replaced, a refused text keeps what it committed before the error
    const next = restoreOnto(this.rulesets.get(host), text, parsed, refusal, { backend: flavor });
    if (next) this.rulesets.set(host, next);
    this.lab = this.make();
    return refusal ? { ok: false, stderr: refusal.message } : { ok: true, stderr: '' };
  }

  async probe(p: Parameters<KernelSide['probe']>[0], opts: Parameters<KernelSide['probe']>[1]) {
    const runs = runProbe(this.lab, this.world, p);
    const best = [...runs].sort((a, b) => b.p - a.p)[0]!;
    this.world = best.value.world;
    // a kernel knows where a packet was dropped only from its rule counters (KernelLab.probe): the stand-in
    // says no more, so that a campaign against it judges what a kernel campaign can judge
    return opts.counters ? best.value.observation : { ...best.value.observation, droppedAt: null };
  }

  async wait(seconds: number) {
    this.world = { ...this.world, now: this.world.now + seconds };
  }

  async command(cmd: CaseCommand, file: string) {
    const out = modelCommand(cmd, this.rulesets, this.world, file, this.nft);
    if (cmd.type === 'iptables' || cmd.type === 'nft') this.lab = this.make();
    return out;
  }
}

/** Which side the mutant plays: the kernel (the planted-bug tests), or the model with the reference model
 *  standing in for the kernel (`npm run mutants -- --model` without a kernel: the same roles as its kernel run). */
export type MutantRole = 'kernel' | 'model';

/** the differences, how many probes ran, and the outcome the kernel's stand-in observed for each */
export interface MutantJudgement {
  diffs: StepDiff[];
  probes: number;
  outcomes: string[];
}

/** Runs the case on the reference model and on a mutant; by default the mutant plays the kernel. */
export async function judgeAgainstMutant(
  c: CaseFile,
  mutation: Mutation | 'none',
  plays: MutantRole = 'kernel',
  mode: ProxyMode = 'iptables',
  kubeProxyVersion?: KubeProxyVersion,
): Promise<MutantJudgement> {
  return judgePlanAgainstMutant(
    await planCase(c, { mode, ...(kubeProxyVersion ? { kubeProxyVersion } : {}) }),
    mutation,
    plays,
  );
}

export async function judgePlanAgainstMutant(
  plan: CasePlan,
  mutation: Mutation | 'none',
  plays: MutantRole = 'kernel',
): Promise<MutantJudgement> {
  // a case whose rules the model refuses has nothing to compare between two models
  if ([...plan.rulesets, ...plan.otherRulesets, ...plan.nftRulesets].some((r) => r.refusal))
    return { diffs: [], probes: 0, outcomes: [] };
  const asModel = plays === 'model' && mutation !== 'none';
  const kernel = new MutantSide(plan, asModel ? 'none' : mutation);
  await loadRulesets(plan, kernel);
  const diffs: StepDiff[] = [];
  const outcomes: string[] = [];
  let probes = 0;
  const semantics = asModel ? modelMutant(mutation).semantics : undefined;
  for await (const r of pairedRun(plan, { kernel, judges: [judgeDifference], ...(semantics ? { semantics } : {}) })) {
    const seen = Object.entries(r.tally.kernel);
    probes += r.kernel ? r.repetitions : 0;
    for (const [category, n] of seen) for (let i = 0; i < n; i++) outcomes.push(category.split(' ')[0]!);
    // where the stand-in itself cannot say what the kernel does (an unsupported rule decided), there is
    // nothing to compare: a kernel always gives a definite outcome
    if (seen.some(([category]) => category.startsWith('indeterminate '))) continue;
    for (const f of r.findings) if (f.judge === 'difference') diffs.push({ step: r.step.label, diff: f.diff });
  }
  return { diffs, probes, outcomes };
}
