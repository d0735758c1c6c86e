// Fuzz campaigns: fast-check draws cases (rulesets, topology variants, probes),
// the model and the oracle (the kernel, or a mutant model) must agree. The first
// divergence is shrunk within a time bound and handed back for the artifacts.
import fc from 'fast-check';
import type { Mutation, Semantics } from '../model/index.ts';
import type { IptablesFlavor } from '../model/index.ts';
import { caseDrawArb, caseFromDraw, type CaseDraw } from './fuzz-arbitraries.ts';
import { serviceCaseArb, serviceCase } from './service-arbitraries.ts';
import type { CaseFile } from './case-file.ts';
import { runPlanned, type LabPool, type RunOptions } from './run-case.ts';
import { caseCost, planCase, probeCount } from './plan.ts';
import { InternalError } from './errors.ts';
import { judgeAgainstMutant, type StepDiff, type MutantRole } from './mutant.ts';
import { loadRegistry, knownFor, type KnownDivergence } from './divergences.ts';
import { CoverageCounter, type CoverageReport } from './coverage.ts';
import type { PhaseTime } from '../lab/profile.ts';
import type { ProxyMode } from '../kube/proxy-mode.ts';
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';

/** The kernel, or a copy of the model with a planted bug ('none': the reference model itself). */
export type FuzzOracle =
  /** the kernel judges the model; `semantics`: the model side runs a model mutant's (`npm run mutants -- --model`) */
  | { kind: 'kernel'; pool: LabPool; semantics?: Semantics }
  /** `plays`: the mutant is the kernel (default) or the model, with the reference model as the kernel */
  | { kind: 'mutant'; mutation: Mutation | 'none'; plays?: MutantRole };

export interface CaseJudgement {
  diffs: StepDiff[];
  known: { diff: StepDiff; entry: KnownDivergence }[];
  probes: number;
  /** the judging side's outcome of every probe (coverage.ts) */
  outcomes: string[];
}

export interface FuzzProgress {
  cases: number;
  probes: number;
  divergences: number;
  known: number;
  elapsedMs: number;
  shrinking: boolean;
}

export interface FuzzOptions {
  oracle: FuzzOracle;
  /** what is drawn: rulesets and topology variants (default), or Service sets judged by the Service oracle too */
  kind?: 'rulesets' | 'services';
  /** kube-proxy's mode the drawn Services are compiled in (kind 'services'; default iptables) */
  mode?: ProxyMode;
  /** in nftables mode, the kube-proxy release whose table shape is compiled (default the newest) */
  kubeProxyVersion?: KubeProxyVersion;
  runs?: number;
  timeSeconds?: number;
  seed?: number;
  backend?: IptablesFlavor;
  /** replay one case: the seed and path printed by an earlier run */
  replay?: { seed: number; path: string };
  shrinkSeconds?: number;
  maxRules?: number;
  maxProbes?: number;
  /** LOG and TRACE may be drawn: the kernel oracle's log stays quiet (lab/prereq.ts kernelLogQuiet); a model
   *  oracle writes no log at all */
  quietLog?: boolean;
  registry?: readonly KnownDivergence[];
  onProgress?: (p: FuzzProgress) => void;
  /** the model's probe on the kernel oracle (tests plant a crash here) */
  runProbe?: RunOptions['runProbe'];
  /** kernel oracle: how many labs run cases side by side (default 1). The cases are the same as with one
   *  lab (drawn from the seed in the same order); a divergence is shrunk afterwards on one lab. */
  labs?: number;
  /** kernel oracle: the first case handed out (a draw index; the cases before it are not run), so that a
   *  campaign goes on past a case it has already judged (`npm run mutants -- --model`) */
  from?: number;
}

export interface FuzzResult {
  seed: number;
  cases: number;
  probes: number;
  elapsedMs: number;
  known: CaseJudgement['known'];
  /** what the campaign's cases exercised (shrinking excluded) */
  coverage: CoverageReport;
  /** kernel oracle with a profiling pool (`LabOptions.profile`): where the labs' time went, summed over labs */
  profile?: PhaseTime[];
  divergence?: { draw: unknown; case: CaseFile; diffs: StepDiff[]; path: string; seed: number; shrinks: number };
}

/** One case on the model and the oracle. Unknown divergences fail; known ones are reported. */
export async function judgeCase(
  c: CaseFile,
  oracle: FuzzOracle,
  registry: readonly KnownDivergence[],
  plant: Plant = {},
): Promise<CaseJudgement> {
  let raw: { diffs: StepDiff[]; probes: number; outcomes: string[] };
  if (oracle.kind === 'mutant')
    raw = await judgeAgainstMutant(
      c,
      oracle.mutation,
      oracle.plays ?? 'kernel',
      plant.mode ?? 'iptables',
      plant.kubeProxyVersion,
    );
  else
    raw = await judgeOnKernel(c, oracle.pool, {
      ...plant,
      ...(oracle.semantics ? { semantics: oracle.semantics } : {}),
    });
  const out: CaseJudgement = { diffs: [], known: [], probes: raw.probes, outcomes: raw.outcomes };
  for (const d of raw.diffs) {
    const entry = knownFor(d.diff, registry);
    if (entry) out.known.push({ diff: d, entry });
    else out.diffs.push(d);
  }
  return out;
}

async function judgeOnKernel(
  c: CaseFile,
  pool: LabPool,
  plant: Plant & { semantics?: Semantics },
): Promise<{ diffs: StepDiff[]; probes: number; outcomes: string[] }> {
  const planned = () =>
    planCase(c, {
      firstPort: pool.reservePorts(probeCount(c)),
      ...(plant.mode ? { mode: plant.mode } : {}),
      ...(plant.kubeProxyVersion ? { kubeProxyVersion: plant.kubeProxyVersion } : {}),
    });
  const plan = await (pool.profile ? pool.profile.time('plan', planned) : planned());
  // a ruleset the model refuses must be refused by the kernel as well
  const refused = [...plan.rulesets, ...plan.otherRulesets, ...plan.nftRulesets].find((r) => r.refusal);
  if (refused) {
    const lab = await pool.get(plan.topology, { fresh: plan.mixedHosts });
    const k =
      'flavor' in refused
        ? await lab.kernel.apply(refused.host, refused.text, refused.flavor)
        : await lab.kernel.applyNft(refused.host, refused.text);
    return {
      diffs: k.ok
        ? [
            {
              step: `ruleset for ${refused.host}`,
              diff: { field: 'apply', model: `refused: ${refused.refusal!.message}`, kernel: 'accepted' },
            },
          ]
        : [],
      probes: 0,
      outcomes: [],
    };
  }
  const rep = await runPlanned(plan, { sides: 'both', ...plant }, pool);
  const diffs: StepDiff[] = [];
  // read by field: a ruleset the kernel refused, or a lab that failed (a model crash is thrown, never a diff)
  if (rep.kernelRefused)
    diffs.push({ step: 'rulesets', diff: { field: 'apply', model: 'accepted', kernel: rep.kernelRefused.stderr } });
  else if (rep.error) diffs.push({ step: 'rulesets', diff: { field: 'lab', model: null, kernel: rep.error } });
  for (const s of rep.steps) for (const d of s.diffs) diffs.push({ step: s.label, diff: d });
  // with Services, the Service-level oracle is a third party to agree with
  for (const s of rep.steps)
    for (const m of s.oracleMisses) diffs.push({ step: s.label, diff: { field: 'oracle', model: m, kernel: null } });
  return {
    diffs,
    probes: rep.steps.reduce((n, s) => n + (s.kernel.length ? (s.repetitions ?? 0) : 0), 0),
    // every repetition's outcome, from the tally (a step lists only some of its repetitions); the kernel always
    // decides, so `indeterminate` counts the probe steps the model left open (spec/semantics.md §10)
    outcomes: rep.steps.flatMap((s) => [
      ...Object.entries(s.tally?.kernel ?? {}).flatMap(([category, n]) =>
        Array<string>(n).fill(category.split(' ')[0]!),
      ),
      ...(s.indeterminate.length ? ['indeterminate'] : []),
    ]),
  };
}

/** What a campaign hands each case's judgement besides the case: a planted probe, the Services' proxy mode and
 *  kube-proxy release. */
type Plant = Pick<FuzzOptions, 'runProbe' | 'mode' | 'kubeProxyVersion'>;
const plantOf = (opts: FuzzOptions): Plant => ({
  ...(opts.runProbe ? { runProbe: opts.runProbe } : {}),
  ...(opts.mode ? { mode: opts.mode } : {}),
  ...(opts.kubeProxyVersion ? { kubeProxyVersion: opts.kubeProxyVersion } : {}),
});

export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const labs = opts.oracle.kind === 'kernel' ? Math.max(1, opts.labs ?? 1) : 1;
  if ((labs > 1 || (opts.from && opts.oracle.kind === 'kernel')) && !opts.replay) return fuzzSideBySide(opts, labs);
  return fuzzInTurn(opts);
}

/** The campaign's draw (its arbitrary) and how a draw becomes a case. */
function drawing(opts: FuzzOptions): {
  arb: fc.Arbitrary<unknown>;
  toCase: (draw: unknown, name?: string) => CaseFile;
} {
  const services = opts.kind === 'services';
  const arb: fc.Arbitrary<unknown> = services
    ? serviceCaseArb(20)
    : caseDrawArb({
        ...(opts.backend ? { backend: opts.backend } : {}),
        maxRules: opts.maxRules ?? 6,
        maxProbes: opts.maxProbes ?? 5,
        quietLog: opts.quietLog ?? false,
      });
  const toCase = (draw: unknown, name?: string) =>
    services ? serviceCase(draw as Parameters<typeof serviceCase>[0], name) : caseFromDraw(draw as CaseDraw, name);
  return { arb, toCase };
}

/**
 * Labs side by side (issue 14 §4: campaign speed): the cases fast-check would draw for this seed, in order
 * (fc.sample gives the same values as fc.check's runs, and run i replays as path "i"), are handed out to
 * `labs` lab pools; a case's result is its own whatever lab ran it (a reset lab is a fresh lab:
 * spec/observation.md). The first failing case in draw order is then replayed and shrunk on one lab.
 */
async function fuzzSideBySide(opts: FuzzOptions, labs: number): Promise<FuzzResult> {
  const registry = opts.registry ?? loadRegistry();
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const oracle = opts.oracle as Extract<FuzzOracle, { kind: 'kernel' }>;
  const { arb, toCase } = drawing(opts);
  const t0 = performance.now();
  const deadline = opts.timeSeconds !== undefined ? t0 + opts.timeSeconds * 1000 : Infinity;
  const runs = opts.runs ?? (opts.timeSeconds !== undefined ? 1_000_000 : 100);
  const stats: FuzzProgress = { cases: 0, probes: 0, divergences: 0, known: 0, elapsedMs: 0, shrinking: false };
  const known: CaseJudgement['known'][] = [];
  const coverage = new CoverageCounter();
  let draws: unknown[] = [];
  const drawAt = (i: number): unknown => {
    // drawn in growing batches: fc.sample starts from the seed each time
    if (i >= draws.length)
      draws = fc.sample(arb, { seed, numRuns: Math.min(runs, Math.max(64, draws.length * 2, i + 1)) });
    return draws[i];
  };
  let stopAt = runs; // no index at or past this one is handed out
  let failed: { index: number; crash?: InternalError; diffs?: StepDiff[] } | undefined;
  // each batch of draws is handed out longest case first (LPT): the last cases to start are the shortest, and no
  // long case runs alone at the end while the other labs idle (measured: a 400-case campaign on 64 labs ended with
  // ~6 s of one or two cases). A case's result does not depend on when or where it ran, and the failing case
  // reported is still the first in draw order.
  const queue: { index: number; c: CaseFile }[] = [];
  let drawnTo = opts.from ?? 0; // each index below it is queued or handed out
  const take = (): { index: number; c: CaseFile } | undefined => {
    for (;;) {
      const q = queue.shift();
      if (q) {
        if (q.index < stopAt) return q;
        continue;
      }
      if (drawnTo >= stopAt) return undefined;
      drawAt(drawnTo);
      const batch = Array.from({ length: Math.min(draws.length, stopAt) - drawnTo }, (_, k) => {
        const c = toCase(drawAt(drawnTo + k));
        return { index: drawnTo + k, c, cost: caseCost(c) };
      });
      drawnTo += batch.length;
      queue.push(...batch.sort((a, b) => b.cost - a.cost || a.index - b.index));
    }
  };
  const pools = [oracle.pool, ...Array.from({ length: labs - 1 }, () => oracle.pool.sibling())];
  const worker = async (pool: LabPool) => {
    for (;;) {
      const q = performance.now() < deadline ? take() : undefined;
      if (!q) break;
      const { index: i, c } = q;
      const lab: FuzzOracle = { ...oracle, pool };
      let j: CaseJudgement;
      try {
        j = await judgeCase(c, lab, registry, plantOf(opts));
      } catch (e) {
        if (!(e instanceof InternalError)) throw e;
        if (!failed || i < failed.index) failed = { index: i, crash: e };
        stopAt = Math.min(stopAt, i);
        continue;
      }
      stats.cases++;
      stats.probes += j.probes;
      stats.known += j.known.length;
      known[i] = j.known;
      coverage.record(c, j.outcomes);
      stats.elapsedMs = performance.now() - t0;
      if (j.diffs.length) {
        if (!failed || i < failed.index) failed = { index: i, diffs: j.diffs };
        stopAt = Math.min(stopAt, i);
      }
      opts.onProgress?.({ ...stats });
    }
    // no case left for this lab: it goes now, while the others finish theirs (the first pool stays for shrinking)
    if (pool !== oracle.pool) await pool.close();
  };
  try {
    await Promise.all(pools.map(worker));
  } finally {
    await Promise.all(pools.slice(1).map((p) => p.close()));
  }
  const result: FuzzResult = {
    seed,
    cases: stats.cases,
    probes: stats.probes,
    elapsedMs: performance.now() - t0,
    known: known.flatMap((k) => k ?? []),
    coverage: coverage.report(),
  };
  if (failed?.crash) throw failed.crash.with({ seed, path: String(failed.index) });
  if (failed) {
    // the first failing case in draw order, replayed and shrunk as `fuzz --replay SEED:INDEX` would
    const tShrink = performance.now();
    const shrunk = await fuzzInTurn({ ...opts, replay: { seed, path: String(failed.index) } });
    oracle.pool.profile?.add('shrink', performance.now() - tShrink);
    if (shrunk.divergence) result.divergence = shrunk.divergence;
    // did not fail again on replay: the case as it failed, unshrunk
    else
      result.divergence = {
        draw: drawAt(failed.index),
        case: toCase(drawAt(failed.index), `fuzz divergence (seed ${seed})`),
        diffs: failed.diffs ?? [],
        path: String(failed.index),
        seed,
        shrinks: 0,
      };
    result.elapsedMs = performance.now() - t0;
  }
  if (oracle.pool.profile) result.profile = oracle.pool.profile.report();
  return result;
}

async function fuzzInTurn(opts: FuzzOptions): Promise<FuzzResult> {
  const registry = opts.registry ?? loadRegistry();
  const seed = opts.replay?.seed ?? opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const shrinkMs = (opts.shrinkSeconds ?? 120) * 1000;
  const t0 = performance.now();
  const stats: FuzzProgress = { cases: 0, probes: 0, divergences: 0, known: 0, elapsedMs: 0, shrinking: false };
  const known: CaseJudgement['known'] = [];
  const coverage = new CoverageCounter();
  let shrinkDeadline = Infinity;
  let shrinkStart: number | undefined;
  let last: { draw: unknown; diffs: StepDiff[] } | undefined;
  let shrinks = -1;
  let crash: { error: InternalError; run: number } | undefined;
  let runIndex = 0;
  const { arb, toCase } = drawing(opts);

  const prop = fc.asyncProperty(arb, async (draw) => {
    // past the shrink budget every candidate "passes", so the shrinker stops at the smallest failure so far
    if (performance.now() > shrinkDeadline || crash) return true;
    const c = toCase(draw);
    let j: CaseJudgement;
    try {
      j = await judgeCase(c, opts.oracle, registry, plantOf(opts));
    } catch (e) {
      // a crash of the model or the engine is not a divergence: the campaign stops and says how to reproduce it
      if (!(e instanceof InternalError)) throw e;
      crash = { error: e, run: runIndex };
      return true;
    } finally {
      runIndex++;
    }
    stats.cases++;
    stats.probes += j.probes;
    stats.known += j.known.length;
    if (!stats.shrinking) {
      known.push(...j.known);
      coverage.record(c, j.outcomes);
    }
    stats.elapsedMs = performance.now() - t0;
    if (j.diffs.length) {
      if (!last) {
        shrinkStart = performance.now();
        shrinkDeadline = shrinkStart + shrinkMs;
        stats.divergences++;
        stats.shrinking = true;
      }
      last = { draw, diffs: j.diffs };
      shrinks++;
    }
    opts.onProgress?.({ ...stats });
    return j.diffs.length === 0;
  });

  const params: fc.Parameters<[unknown]> = { seed, numRuns: opts.runs ?? 100, endOnFailure: false };
  if (opts.replay) {
    params.path = opts.replay.path;
    params.numRuns = 1;
  }
  if (opts.timeSeconds !== undefined && !opts.replay) {
    params.numRuns = opts.runs ?? 1_000_000;
    params.interruptAfterTimeLimit = opts.timeSeconds * 1000;
    params.markInterruptAsFailure = false;
  }
  const details = await fc.check(prop, params);
  const profile = opts.oracle.kind === 'kernel' ? opts.oracle.pool.profile : undefined;
  // a replay's shrinking is booked by the campaign that asked for it (fuzzSideBySide)
  if (shrinkStart !== undefined && !opts.replay) profile?.add('shrink', performance.now() - shrinkStart);
  if (crash) throw crash.error.with({ seed, path: opts.replay ? opts.replay.path : String(crash.run) });
  const result: FuzzResult = {
    seed,
    cases: stats.cases,
    probes: stats.probes,
    elapsedMs: performance.now() - t0,
    known,
    coverage: coverage.report(),
    ...(profile ? { profile: profile.report() } : {}),
  };
  if (details.failed && last) {
    const draw = details.counterexample?.[0] ?? last.draw;
    result.divergence = {
      draw,
      case: toCase(draw, `fuzz divergence (seed ${seed})`),
      diffs: last.diffs,
      path: details.counterexamplePath ?? '',
      seed,
      shrinks: Math.max(0, shrinks),
    };
  }
  return result;
}
