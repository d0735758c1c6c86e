// Runs case files on the model, the kernel, or both, and judges them against
// their expectations and against each other. Kernel labs are reused across
// cases with the same topology (reset, not rebuilt).
import { formatIp as formatIpOf, parseIp as parseIpOf } from '../model/index.ts';
import type { IptablesFlavor } from '../model/index.ts';
import type { Sides } from './sides.ts';
import {
  makeLab,
  newWorld,
  runProbe,
  parseRuleset,
  printRuleset as printRulesetOf,
  isInputError,
  type Observation,
  type Weighted,
  type Probe,
  type Ruleset,
  type TopologySpec,
  type ProbeRun,
} from '../model/index.ts';
import { compileTopology } from '../model/index.ts';
import { PairedLab } from './paired-lab.ts';
import type { LabOptions } from '../lab/kernel-lab.ts';
import {
  type CaseFile,
  type Step,
  isApply,
  isWait,
  isControl,
  caseTopology,
  type ProbeStep,
  otherBackend,
  mixesBackends,
} from './case-file.ts';
import { misses } from './expect.ts';
import { chiSquare } from './chisq.ts';

/** Significance of the distribution check: a correct model fails it once in 10,000 runs (spec/equivalence.md §3). */
export const DISTRIBUTION_ALPHA = 1e-4;
const category = (o: Observation) => `${o.outcome} ${o.responder ?? '-'}`;
import type { FieldDiff } from './compare.ts';
import { readCluster } from '../kube/objects.ts';
import { builtinImpl, type Implementation, type ImplInput } from './impl.ts';
import type { CompilerMutant } from '../kube/mutants.ts';
import { predict, K8S_NODE_LAYOUT } from '../kube/oracle.ts';
import { modelMiss, kernelMiss } from './oracle-compare.ts';
import { sourceFor } from '../model/index.ts';

export type { Sides } from './sides.ts';
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

function stepLabel(s: Step, i: number): string {
  if (s.label) return s.label;
  if (isApply(s)) return `apply ${Object.keys(s.apply).join(', ')}`;
  if (isWait(s)) return `wait ${s.wait} s`;
  return `${s.from} ${s.proto} ${s.dst}${s.proto === 'icmp' ? '' : `:${s.dport}`}${s.repeat ? ` ×${s.repeat}` : ''} (#${i + 1})`;
}

function parseFor(c: CaseFile, host: string, text: string, backend?: IptablesFlavor): Ruleset {
  return parseRuleset(text, {
    file: `${c.file ?? c.name}#${host}${backend ? `@${backend}` : ''}`,
    ...(backend ? { backend } : {}),
  });
}

/** Each host's rules in its other iptables backend (spec/semantics.md §2.3). */
function secondRulesets(c: CaseFile, topo: TopologySpec): Map<string, Ruleset> {
  const out = new Map<string, Ruleset>();
  for (const [h, s] of Object.entries(c.hosts ?? {})) {
    if (s.otherBackendRuleset === undefined) continue;
    out.set(
      h,
      parseFor(c, h, s.otherBackendRuleset, otherBackend(topo.hosts.find((x) => x.name === h)?.backend ?? 'nft')),
    );
  }
  return out;
}

/** The model alone: each possibility is checked; the world follows the most likely branch. */
function runModel(c: CaseFile, topo: TopologySpec, portBase = FIRST_PORT): StepReport[] {
  const net = compileTopology(topo);
  const rulesets = new Map<string, Ruleset>();
  for (const [h, s] of Object.entries(c.hosts ?? {}))
    if (s.ruleset !== undefined) rulesets.set(h, parseFor(c, h, s.ruleset));
  const second = secondRulesets(c, topo);
  let lab = makeLab(net, rulesets, second);
  let world = newWorld(lab);
  let port = portBase;
  return c.steps.map((s, i): StepReport => {
    const rep: StepReport = {
      label: stepLabel(s, i),
      model: [],
      kernel: [],
      modelMisses: [],
      kernelMisses: [],
      diffs: [],
      oracleMisses: [],
      sports: [],
    };
    if (isWait(s)) {
      world = { ...world, now: world.now + s.wait };
      return rep;
    }
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
      lab = makeLab(net, rulesets, second);
      return rep;
    }
    rep.probe = probeOf(s);
    const perRepeat: string[][] = [];
    for (let r = 0; r < (s.repeat ?? 1); r++) {
      const p = s.sport !== undefined ? rep.probe : { ...rep.probe, sport: port++ };
      rep.sports.push(p.sport!);
      const res = runProbe(lab, world, p);
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

function probeOf(s: ProbeStep): Probe {
  const p: Probe = { from: s.from, proto: s.proto, dst: s.dst };
  if (s.dport !== undefined) p.dport = s.dport;
  if (s.src !== undefined) p.src = s.src;
  if (s.sport !== undefined) p.sport = s.sport;
  if (s.connected === false) p.connected = false;
  return p;
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
/** Source ports of probes that do not choose one: FIRST_PORT, FIRST_PORT+1, ... */
export const FIRST_PORT = 41000;

export class LabPool {
  private current: { key: string; lab: PairedLab } | undefined;
  /**
   * Cases sharing a lab get disjoint source ports: a server keeps TIME_WAIT for a
   * closed connection, and a new SYN on the same 4-tuple meets it (measured:
   * the kernel then diverged from a model that assumes fresh connections).
   */
  private nextPort = FIRST_PORT;

  reservePorts(n: number): number {
    if (this.nextPort + n > 60999) this.nextPort = FIRST_PORT;
    const base = this.nextPort;
    this.nextPort += n;
    return base;
  }

  constructor(private readonly labOptions: LabOptions = {}) {}

  /** `fresh`: a new lab, not a reset one (mixed-backend cases: legacy tables stay registered once used) */
  async get(topo: TopologySpec, opts: { fresh?: boolean } = {}): Promise<PairedLab> {
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

async function runKernel(
  c: CaseFile,
  topo: TopologySpec,
  pool: LabPool,
  steps: StepReport[],
  portBase = FIRST_PORT,
): Promise<void> {
  const lab = await pool.get(topo, { fresh: mixesBackends(c) });
  for (const [h, s] of Object.entries(c.hosts ?? {})) {
    if (s.ruleset === undefined) continue;
    const r = await lab.apply(h, printable(c, h, s.ruleset));
    if (!r.kernelOk)
      throw new Error(`the kernel refused the ruleset for ${h} that the model accepted: ${r.kernelError}`);
  }
  // then the other backend's rules: registered later, they run first at equal priority (spec/semantics.md §2.3)
  for (const [h, rs] of secondRulesets(c, topo)) {
    const r = await lab.applyOther(h, rs, printRulesetOf(rs));
    if (!r.kernelOk)
      throw new Error(
        `the kernel refused the other backend's rules for ${h} that the model accepted: ${r.kernelError}`,
      );
  }
  let port = portBase;
  for (const [i, s] of c.steps.entries()) {
    const rep = steps[i]!;
    if (isWait(s)) {
      await lab.wait(s.wait);
      continue;
    }
    if (isApply(s)) {
      let refused = false;
      for (const [h, text] of Object.entries(s.apply)) {
        const r = await lab.apply(h, printableOrRaw(c, h, text));
        if (!r.kernelOk) refused = true;
        if (r.kernelOk !== r.modelOk)
          rep.diffs.push({
            field: `apply.${h}`,
            model: r.modelOk ? 'accepted' : `refused: ${r.modelError}`,
            kernel: r.kernelOk ? 'accepted' : `refused: ${r.kernelError}`,
          });
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
        const c = withIptables(await withServices(c0, opts.impl ?? builtinImpl(opts.mutant)), opts.iptables);
        const topo = caseTopology(c);
        const probes = c.steps.reduce((n, st) => n + (isControl(st) ? 0 : (st.repeat ?? 1)), 0);
        const portBase = opts.sides === 'model' ? FIRST_PORT : pool.reservePorts(probes);
        rep.steps = runModel(c, topo, portBase);
        if (opts.sides !== 'kernel') rep.model = rep.steps.some((s) => s.modelMisses.length) ? 'fail' : 'pass';
        if (opts.sides !== 'model') {
          if (opts.kernelSkip) rep.skipReason = opts.kernelSkip;
          else {
            await runKernel(c, topo, pool, rep.steps, portBase);
            rep.kernel = rep.steps.some((s) => s.kernelMisses.length) ? 'fail' : 'pass';
            if (opts.sides === 'both') rep.agree = rep.steps.some((s) => s.diffs.length) ? 'fail' : 'pass';
          }
        }
        if (c.services) {
          judgeOracle(c, topo, rep.steps, opts.sides);
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

/** The case with every host on one iptables backend (nft or legacy). */
export function withIptables(c: CaseFile, backend: IptablesFlavor | undefined): CaseFile {
  if (!backend) return c;
  const hosts = structuredClone(c.hosts ?? {});
  const topo = caseTopology(c);
  // a host with rules in both backends keeps its own choice
  for (const h of topo.hosts)
    if (hosts[h.name]?.otherBackendRuleset === undefined) (hosts[h.name] ??= {}).backend = backend;
  return { ...c, hosts };
}

/** A case with "services": each node's ruleset compiled from them by the implementation under test (the
 *  built-in compiler by default), bridge ports in hairpin mode (kubelet's hairpin-veth); `apply: { services }`
 *  steps become the nodes' new rulesets. What the implementation writes must parse: else an input error naming it. */
export async function withServices(c: CaseFile, impl: Implementation = builtinImpl()): Promise<CaseFile> {
  if (!c.services?.text) return c;
  const svc = c.services;
  const compileAll = async (text: string): Promise<Record<string, string>> => {
    const cluster: unknown = JSON.parse(text);
    readCluster(text, svc.file, { strict: true }); // the Services must be valid whatever the implementation
    const out: Record<string, string> = {};
    for (const n of K8S_NODE_LAYOUT.nodes) {
      const input: ImplInput = {
        apiVersion: 'nfconform/v1',
        node: { name: n.name, addresses: [...n.addresses] },
        clusterCIDR: svc.clusterCIDR,
        masqueradeAll: svc.masqueradeAll ?? false,
        localhostNodePorts: svc.localhostNodePorts ?? false,
        cluster,
      };
      const rules = await impl.compile(input, text, svc.file);
      parseRuleset(rules, { file: `${impl.name} (output for ${n.name})` });
      out[n.name] = rules;
    }
    return out;
  };
  const hosts = structuredClone(c.hosts ?? {});
  for (const [node, text] of Object.entries(await compileAll(svc.text!))) {
    const h = (hosts[node] ??= {});
    if (h.ruleset === undefined) h.ruleset = text;
  }
  const ports: Record<string, string[]> = { node: ['veth-pod1', 'veth-pod2'], node2: ['veth-pod3'] };
  for (const [node, list] of Object.entries(ports)) if (hosts[node]!.hairpin === undefined) hosts[node]!.hairpin = list;
  const steps = await Promise.all(
    c.steps.map(async (s) =>
      isApply(s) && s.apply.services !== undefined
        ? { ...s, apply: await compileAll(s.apply.services), [SERVICES_TEXT]: s.apply.services }
        : s,
    ),
  );
  return { ...c, hosts, steps };
}

/** The Services text an apply step installed, kept beside the compiled rulesets. */
const SERVICES_TEXT = Symbol('services');
function c0Services(s: Step): string | undefined {
  return (s as { [SERVICES_TEXT]?: string })[SERVICES_TEXT];
}

/** The model's distribution must be the oracle's; each kernel observation one of its results. */
function judgeOracle(c: CaseFile, topo: TopologySpec, steps: StepReport[], sides: Sides): void {
  const layout = {
    ...K8S_NODE_LAYOUT,
    clusterCIDR: c.services!.clusterCIDR,
    ...(c.services!.masqueradeAll ? { masqueradeAll: true } : {}),
  };
  const net = compileTopology(topo);
  let cluster = readCluster(c.services!.text!, c.services!.file, { strict: true });
  c.steps.forEach((s, i) => {
    if (isApply(s) && c0Services(s)) cluster = readCluster(c0Services(s)!, c.services!.file, { strict: true });
    if (isControl(s) || s.oracle === false) return;
    const rep = steps[i]!;
    const src = s.src ?? formatIpOf(sourceFor(net.hosts.get(s.from)!, parseIpOf(s.dst)!) ?? 0);
    const want = predict(cluster, layout, probeOf(s), src);
    if (!want) return;
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
  });
}
