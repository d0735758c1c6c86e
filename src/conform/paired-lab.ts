// The model and a kernel lab side by side: the same rulesets, the same probes,
// the model's world following the branch the kernel took.
import {
  makeLab,
  newWorld,
  runProbe,
  parseRuleset,
  isInputError,
  pruneRecentLists,
  commandArgs,
  type ModelLab,
  type World,
  type Probe,
  type Ruleset,
  type Observation,
  type Weighted,
  type TopologySpec,
  type ProbeRun,
  type NftRuleset,
} from '../model/index.ts';
import { compileTopology } from '../model/index.ts';
import { KernelLab, type KernelObservation, type LabOptions } from '../lab/kernel-lab.ts';
import { judge, type Verdict } from './compare.ts';
import { modelCommand, type CommandOutcome } from './case-commands.ts';
import type { CaseCommand } from './plan.ts';
import { FIRST_PORT } from './ports.ts';

export interface PairedProbe {
  probe: Probe;
  kernel: KernelObservation;
  model: Weighted<ProbeRun>[];
  verdict: Verdict;
}

export interface PairedApply {
  kernelOk: boolean;
  kernelError: string;
  modelOk: boolean;
  modelError: string;
}

export class PairedLab {
  private rulesets = new Map<string, Ruleset>();
  /** rules in each host's other iptables backend (spec/semantics.md §2.3) */
  private second = new Map<string, Ruleset>();
  /** native nft state nft steps built (spec/nft.md §8.2) */
  private nft = new Map<string, NftRuleset>();
  model: ModelLab;
  world: World;
  private nextPort = FIRST_PORT;

  private constructor(
    readonly kernel: KernelLab,
    public spec: TopologySpec,
  ) {
    this.model = makeLab(compileTopology(spec), this.rulesets);
    this.world = newWorld(this.model);
  }

  static async up(spec: TopologySpec, opts: LabOptions = {}): Promise<PairedLab> {
    return new PairedLab(await KernelLab.up(spec, opts), spec);
  }

  /** Applies to both; says whether each accepted it (they must agree on refusals too). */
  async apply(host: string, text: string): Promise<PairedApply> {
    const backend = this.model.net.hosts.get(host)!.backend;
    let modelOk = true;
    let modelError = '';
    try {
      this.rulesets.set(host, parseRuleset(text, { file: `${host}.rules`, backend }));
      pruneRecentLists(this.world, host, this.rulesets.get(host));
    } catch (e) {
      if (!isInputError(e)) throw e;
      modelOk = false;
      modelError = e.message;
    }
    const k = await this.kernel.apply(host, text, backend);
    this.model = makeLab(this.model.net, this.rulesets, this.second, undefined, { nft: this.nft });
    return { kernelOk: k.ok, kernelError: k.stderr, modelOk, modelError };
  }

  /** Rules for `host` in its other iptables backend, loaded after its first ones: both are evaluated. */
  async applyOther(host: string, rs: Ruleset, text: string): Promise<PairedApply> {
    const backend = this.model.net.hosts.get(host)!.backend === 'legacy' ? 'nft' : 'legacy';
    this.second.set(host, rs);
    const k = await this.kernel.apply(host, text, backend);
    this.model = makeLab(this.model.net, this.rulesets, this.second, undefined, { nft: this.nft });
    return { kernelOk: k.ok, kernelError: k.stderr, modelOk: true, modelError: '' };
  }

  async probe(p: Probe, opts: { counters?: boolean } = {}): Promise<PairedProbe> {
    const probe: Probe = p.sport !== undefined ? p : { ...p, sport: this.nextPort++ };
    const model = runProbe(this.model, this.world, probe);
    const kernel = await this.kernel.probe(probe, opts);
    const verdict = judge(
      model.map((m) => ({ p: m.p, value: m.value.observation })),
      kernel,
    );
    // the model continues from the branch the kernel took (or its most likely one)
    const next =
      model.find((m) => m.value.observation === verdict.matched?.value) ?? [...model].sort((a, b) => b.p - a.p)[0]!;
    // an indeterminate possibility: the branch whose observation the kernel made (spec/semantics.md §10)
    const branch = verdict.indeterminate ? next.value.branches?.[verdict.indeterminate.branch] : undefined;
    this.world = (branch ?? next.value).world;
    return { probe, kernel, model, verdict };
  }

  /** Other settings of the same topology (sysctls, hairpin, backends), without rebuilding the lab. */
  async reconfigure(spec: TopologySpec): Promise<void> {
    await this.kernel.reconfigure(spec);
    this.spec = spec;
    this.model = makeLab(compileTopology(spec), this.rulesets, this.second, undefined, { nft: this.nft });
    this.world = newWorld(this.model);
  }

  /**
   * A command between probes (spec/case-file.md) on both sides. For iptables commands: the first command
   * each side refused, per host (null: all ran), so that refusals are compared too.
   */
  async command(cmd: CaseCommand, file: string): Promise<{ model: CommandOutcome; kernel: CommandOutcome }> {
    const kernel: CommandOutcome = {};
    if (cmd.type === 'nft') {
      // the kernel first: where an element near its timeout decides, the model follows its answer
      for (const h of cmd.hosts) {
        const r = await this.kernel.applyNft(h.host, h.text);
        kernel[h.host] = r.ok ? null : `nft -f refused: ${r.stderr}`;
      }
      const model = modelCommand(cmd, this.rulesets, this.world, file, this.nft, kernel);
      this.model = makeLab(this.model.net, this.rulesets, this.second, undefined, { nft: this.nft });
      return { model, kernel };
    }
    const model = modelCommand(cmd, this.rulesets, this.world, file);
    if (cmd.type === 'conntrack') {
      const r = await this.kernel.conntrackDelete(cmd.host, cmd.match);
      if (!r.ok) throw new Error(`conntrack on ${cmd.host} failed: ${r.stderr}`);
    } else if (cmd.type === 'recent') {
      const line = cmd.op === 'flush' ? '/' : `${cmd.op === 'add' ? '+' : '-'}${cmd.addr}`;
      const r = await this.kernel.recentWrite(cmd.host, cmd.list, line);
      // no rule names the list: its /proc file is gone, a refusal as the model's (case-commands.ts)
      if (!r.ok && /ENOENT/.test(r.stderr)) kernel[cmd.host] = `command 1 refused: ${r.stderr}`;
      else if (!r.ok) throw new Error(`/proc/net/xt_recent/${cmd.list} on ${cmd.host}: ${r.stderr}`);
      else kernel[cmd.host] = null;
    } else {
      for (const h of cmd.hosts) {
        kernel[h.host] = null;
        for (const [i, line] of h.lines.entries()) {
          const args = commandArgs(line, `${file}#${h.host}`, i + 1).map((t) => t.text);
          const r = await this.kernel.iptables(h.host, h.flavor, args);
          if (!r.ok) {
            kernel[h.host] = `command ${i + 1} refused: ${r.stderr}`;
            break;
          }
        }
      }
      this.model = makeLab(this.model.net, this.rulesets, this.second, undefined, { nft: this.nft });
    }
    return { model, kernel };
  }

  /** Time passes on both sides: the model's clock, and the kernel's for real. */
  async wait(seconds: number): Promise<void> {
    this.world.now += seconds;
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }

  /** Both sides back to no rules and empty state. */
  async reset(): Promise<void> {
    this.rulesets = new Map();
    this.second = new Map();
    this.nft = new Map();
    this.model = makeLab(this.model.net, this.rulesets);
    this.world = newWorld(this.model);
    await this.kernel.reset();
  }

  async down(): Promise<void> {
    await this.kernel.down();
  }
}

export type { Observation };
