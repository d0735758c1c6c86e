// Runs case files on the model, the kernel, or both, and judges them against
// their expectations and against each other. Kernel labs are reused across
// cases with the same topology (reset, not rebuilt).
import { makeLab, newWorld, runProbe, parseRuleset, printRuleset as printRulesetOf, isInputError, type Observation, type Weighted, type Probe, type Ruleset, type TopologySpec, type ProbeRun } from '../model/index.ts';
import { compileTopology } from '../model/net/topology.ts';
import { PairedLab } from './paired-lab.ts';
import type { LabOptions } from '../lab/kernel-lab.ts';
import { type CaseFile, type Step, isApply, caseTopology, type ProbeStep } from './case-file.ts';
import { misses } from './expect.ts';
import { chiSquare } from './chisq.ts';

/** Significance of the distribution check: a correct model fails it once in 10,000 runs (spec/equivalence.md §3). */
export const DISTRIBUTION_ALPHA = 1e-4;
const category = (o: Observation) => `${o.outcome} ${o.responder ?? '-'}`;
import type { FieldDiff } from './compare.ts';

export type Backends = 'model' | 'kernel' | 'both';
export type Mark = 'pass' | 'fail' | 'skip';

export interface StepReport {
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

function stepLabel(s: Step, i: number): string {
  if (s.label) return s.label;
  if (isApply(s)) return `apply ${Object.keys(s.apply).join(', ')}`;
  return `${s.from} ${s.proto} ${s.dst}${s.proto === 'icmp' ? '' : `:${s.dport}`}${s.repeat ? ` ×${s.repeat}` : ''} (#${i + 1})`;
}

function parseFor(c: CaseFile, host: string, text: string): Ruleset {
  return parseRuleset(text, { file: `${c.file ?? c.name}#${host}` });
}

/** The model alone: each possibility is checked; the world follows the most likely branch. */
function runModel(c: CaseFile, topo: TopologySpec): StepReport[] {
  const net = compileTopology(topo);
  const rulesets = new Map<string, Ruleset>();
  for (const [h, s] of Object.entries(c.hosts ?? {})) if (s.ruleset !== undefined) rulesets.set(h, parseFor(c, h, s.ruleset));
  let lab = makeLab(net, rulesets);
  let world = newWorld(lab);
  let port = 41000;
  return c.steps.map((s, i): StepReport => {
    const rep: StepReport = { label: stepLabel(s, i), model: [], kernel: [], modelMisses: [], kernelMisses: [], diffs: [] };
    if (isApply(s)) {
      let refused = false;
      for (const [h, text] of Object.entries(s.apply)) {
        try {
          rulesets.set(h, parseFor(c, h, text));
        } catch (e) {
          if (!isInputError(e)) throw e;
          refused = true;
          if (!s.expectRefused) rep.modelMisses.push(`ruleset for ${h} refused: ${e.message}`);
        }
      }
      if (s.expectRefused && !refused) rep.modelMisses.push('the ruleset was accepted, expected a refusal');
      lab = makeLab(net, rulesets);
      return rep;
    }
    rep.probe = probeOf(s);
    const perRepeat: string[][] = [];
    for (let r = 0; r < (s.repeat ?? 1); r++) {
      const p = s.sport !== undefined ? rep.probe : { ...rep.probe, sport: port++ };
      const res = runProbe(lab, world, p);
      if (r === 0 && res[0]) rep.trace = res[0].value.trace;
      const obs = res.map((x) => ({ p: x.p, value: x.value.observation }));
      rep.model.push(obs);
      if (s.expect) perRepeat.push(expectOver(obs, s.expect));
      world = [...res].sort((a, b) => b.p - a.p)[0]!.value.world;
    }
    rep.modelMisses = combine(perRepeat, s.expect?.mode);
    return rep;
  });
}

function probeOf(s: ProbeStep): Probe {
  const p: Probe = { from: s.from, proto: s.proto, dst: s.dst };
  if (s.dport !== undefined) p.dport = s.dport;
  if (s.src !== undefined) p.src = s.src;
  if (s.sport !== undefined) p.sport = s.sport;
  return p;
}

/** "all": every repetition must meet the expectation; "any": one repetition is enough. */
function combine(perRepeat: string[][], mode: 'all' | 'any' | undefined): string[] {
  if (mode === 'any') return perRepeat.some((m) => m.length === 0) ? [] : [...new Set(perRepeat.flat())].slice(0, 3);
  return [...new Set(perRepeat.flat())];
}

function expectOver(possible: Weighted<Observation>[], exp: NonNullable<ProbeStep['expect']>): string[] {
  const each = possible.map((o) => misses(o.value, exp));
  if (exp.mode === 'any') return each.some((m) => m.length === 0) ? [] : [`no possible result meets the expectation: ${each[0]!.join('; ')}`];
  // "all": every possible result must meet it
  return each.flatMap((m, i) => m.map((x) => (possible.length > 1 ? `${x} (possibility p=${possible[i]!.p.toFixed(3)})` : x)));
}

/** Keeps one kernel lab per topology and resets it between cases. */
export class LabPool {
  private current: { key: string; lab: PairedLab } | undefined;

  constructor(private readonly labOptions: LabOptions = {}) {}

  async get(topo: TopologySpec): Promise<PairedLab> {
    if (this.current?.lab.kernel.tainted) await this.close();
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

async function runKernel(c: CaseFile, topo: TopologySpec, pool: LabPool, steps: StepReport[]): Promise<void> {
  const lab = await pool.get(topo);
  for (const [h, s] of Object.entries(c.hosts ?? {})) {
    if (s.ruleset === undefined) continue;
    const r = await lab.apply(h, printable(c, h, s.ruleset));
    if (!r.kernelOk) throw new Error(`the kernel refused the ruleset for ${h} that the model accepted: ${r.kernelError}`);
  }
  let port = 41000;
  for (const [i, s] of c.steps.entries()) {
    const rep = steps[i]!;
    if (isApply(s)) {
      let refused = false;
      for (const [h, text] of Object.entries(s.apply)) {
        const r = await lab.apply(h, printableOrRaw(c, h, text));
        if (!r.kernelOk) refused = true;
        if (r.kernelOk !== r.modelOk) rep.diffs.push({ field: `apply.${h}`, model: r.modelOk ? 'accepted' : `refused: ${r.modelError}`, kernel: r.kernelOk ? 'accepted' : `refused: ${r.kernelError}` });
      }
      if (s.expectRefused && !refused) rep.kernelMisses.push('the kernel accepted the ruleset, expected a refusal');
      if (!s.expectRefused && refused) rep.kernelMisses.push('the kernel refused the ruleset');
      continue;
    }
    const perRepeat: string[][] = [];
    for (let r = 0; r < (s.repeat ?? 1); r++) {
      const p = s.sport !== undefined ? rep.probe! : { ...rep.probe!, sport: port++ };
      const res = await lab.probe(p);
      rep.kernel.push(res.kernel);
      if (s.expect) perRepeat.push(misses(res.kernel, s.expect));
      rep.diffs.push(...res.verdict.diffs);
    }
    rep.kernelMisses = combine(perRepeat, s.expect?.mode);
    if (s.distribution && rep.model[0]) {
      const expected = new Map<string, number>();
      for (const m of rep.model[0]) expected.set(category(m.value), (expected.get(category(m.value)) ?? 0) + m.p);
      const observed = new Map<string, number>();
      for (const k of rep.kernel) observed.set(category(k), (observed.get(category(k)) ?? 0) + 1);
      const x = chiSquare(observed, expected);
      if (x.impossible.length) rep.diffs.push({ field: 'distribution', model: Object.fromEntries(expected), kernel: Object.fromEntries(observed) });
      else if (x.pValue < DISTRIBUTION_ALPHA) {
        rep.diffs.push({ field: 'distribution', model: Object.fromEntries(expected), kernel: { ...Object.fromEntries(observed), chiSquare: Number(x.statistic.toFixed(2)), pValue: x.pValue } });
      }
    }
  }
}

/** Command-line rulesets are not iptables-restore input: give the kernel the canonical form. */
function printable(c: CaseFile, host: string, text: string): string {
  return printRulesetOf(parseFor(c, host, text));
}
function printableOrRaw(c: CaseFile, host: string, text: string): string {
  try {
    return printable(c, host, text);
  } catch (e) {
    if (isInputError(e)) return text; // let the kernel judge what the model refuses
    throw e;
  }
}

export interface RunOptions {
  backends: Backends;
  /** a lab pool to reuse (the caller closes it); otherwise one is made and closed */
  pool?: LabPool;
  /** why kernel runs cannot happen here (not root, ...), if so */
  kernelSkip?: string;
  onCase?: (r: CaseReport, index: number) => void;
  onStart?: (c: CaseFile, index: number) => void;
}

export async function runCases(cases: readonly CaseFile[], opts: RunOptions): Promise<CaseReport[]> {
  const pool = opts.pool ?? new LabPool();
  const out: CaseReport[] = [];
  try {
    for (const [i, c] of cases.entries()) {
      opts.onStart?.(c, i);
      const t0 = performance.now();
      const rep: CaseReport = { name: c.name, file: c.file, tags: c.tags ?? [], model: 'skip', kernel: 'skip', agree: 'skip', steps: [], ms: 0 };
      try {
        const topo = caseTopology(c);
        rep.steps = runModel(c, topo);
        if (opts.backends !== 'kernel') rep.model = rep.steps.some((s) => s.modelMisses.length) ? 'fail' : 'pass';
        if (opts.backends !== 'model') {
          if (opts.kernelSkip) rep.skipReason = opts.kernelSkip;
          else {
            await runKernel(c, topo, pool, rep.steps);
            rep.kernel = rep.steps.some((s) => s.kernelMisses.length) ? 'fail' : 'pass';
            if (opts.backends === 'both') rep.agree = rep.steps.some((s) => s.diffs.length) ? 'fail' : 'pass';
          }
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
