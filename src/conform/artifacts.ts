// What a divergence leaves behind: case.json (replayable with `nfconform check`),
// repro.sh (plain bash) and explain.md (the model's path against the kernel's
// observation, naming the first point where they part), and the same as a page, explain.html.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Observation, TraceEvent } from '../model/index.ts';
import type { CaseFile } from './case-file.ts';
import { labSide, runPlan, type LabPool } from './run-case.ts';
import { pairedRun, loadRulesets } from './paired-run.ts';
import { judge } from './compare.ts';
import { judgeDifference } from './judges.ts';
import { planCase, probeCount, FIRST_PORT } from './plan.ts';
import { reproScript } from './repro.ts';
import { renderPlain } from './render.ts';
import { esc, page, tracePage } from './html.ts';
import type { KernelObservation } from '../lab/kernel-lab.ts';
import type { StepDiff } from './mutant.ts';
import type { ProxyMode } from '../kube/proxy-mode.ts';
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';

/** The command line that replays a campaign's case: its seed and path, and the flags that shaped its draw. */
export const replayCommand = (seed: number, path: string, flags: readonly string[] = []): string =>
  ['nfconform fuzz', ...flags, `--replay ${seed}:${path}`].join(' ');

export function caseId(c: CaseFile): string {
  return createHash('sha256')
    .update(JSON.stringify({ h: c.hosts, s: c.steps }))
    .digest('hex')
    .slice(0, 10);
}

/** The first rule one side says was hit and the other not. */
export function firstParting(trace: readonly TraceEvent[], kernel: KernelObservation): string {
  const hits = new Set((kernel.rulesHit ?? []).map((r) => `${r.host} ${r.table} ${r.chain} ${r.rule}`));
  const modelHits: string[] = [];
  for (const e of trace) {
    if (e.kind !== 'rule' || !e.matched) continue;
    const key = `${e.host} ${e.table} ${e.chain} ${e.rule}`;
    if (!modelHits.includes(key)) modelHits.push(key);
  }
  for (const k of modelHits) {
    if (!hits.has(k))
      return (
        `The model's first rule the kernel did not hit: **${k}** (the model says it matched; its` +
        ` counter did not move on the kernel).`
      );
  }
  for (const r of kernel.rulesHit ?? []) {
    const k = `${r.host} ${r.table} ${r.chain} ${r.rule}`;
    if (!modelHits.includes(k))
      return `The kernel hit **${k}**${r.spec ? ` (\`${r.spec}\`)` : ''}, which the model did not.`;
  }
  return (
    'Both sides hit the same rules: they part after the rules, in connection tracking, NAT or' +
    ' delivery (compare the fields below).'
  );
}

export interface ExplainInput {
  c: CaseFile;
  diffs: readonly StepDiff[];
  seed?: number;
  path?: string;
  /** the flags that shape the campaign's draw and its judgement (`--services --mode nftables`, `--iptables X`):
   *  a replay without them draws another case */
  replayFlags?: readonly string[];
  /** kube-proxy's mode the case's Services were compiled in */
  mode?: ProxyMode;
  /** in nftables mode, the kube-proxy release whose shape was compiled */
  kubeProxyVersion?: KubeProxyVersion;
}

/** `check`'s flags that compile the case's Services as the campaign did */
const checkModeFlags = (input: ExplainInput): string =>
  input.mode === 'nftables'
    ? ` --mode nftables${input.kubeProxyVersion ? ` --kube-proxy-version ${input.kubeProxyVersion}` : ''}`
    : '';

/** Runs the case once more with counters, and writes case.json, repro.sh and explain.md, all from one plan
 *  (the same rulesets in both flavors, the same source ports). */
export async function writeArtifacts(dir: string, input: ExplainInput, pool?: LabPool): Promise<string> {
  const plan = await planCase(input.c, {
    firstPort: pool ? pool.reservePorts(probeCount(input.c)) : FIRST_PORT,
    ...(input.mode ? { mode: input.mode } : {}),
    ...(input.kubeProxyVersion ? { kubeProxyVersion: input.kubeProxyVersion } : {}),
  });
  const c = plan.case;
  const out = join(dir, caseId(c));
  mkdirSync(out, { recursive: true });
  const md: string[] = [`# ${c.name}`, ''];
  if (input.seed !== undefined)
    md.push(
      `Replay: \`${replayCommand(input.seed, input.path ?? '', input.replayFlags)}\` — or \`nfconform` +
        ` check ${join(out, 'case.json')}${checkModeFlags(input)}\`, or` +
        ` \`bash ${join(out, 'repro.sh')}\`.`,
      '',
    );
  md.push(
    '## Differences',
    '',
    ...input.diffs.map(
      (d) =>
        `- ${d.step}: **${d.diff.field}** — model \`${JSON.stringify(d.diff.model)}\`, kernel` +
        ` \`${JSON.stringify(d.diff.kernel)}\``,
    ),
    '',
  );
  const differences = `<h2>Differences</h2><ul>${input.diffs
    .map(
      (d) =>
        `<li>${esc(d.step)}: <b>${esc(d.diff.field)}</b>: model` +
        ` <code>${esc(JSON.stringify(d.diff.model))}</code>, kernel` +
        ` <code>${esc(JSON.stringify(d.diff.kernel))}</code></li>`,
    )
    .join('')}</ul>`;
  // explain.html: the same explanation as a page, the first diverging probe's path drawn (html.ts)
  let html = page(c.name, `<h1>${esc(c.name)}</h1>${differences}`);
  const observed: Record<number, Observation> = {};
  if (pool) {
    // the same paired loop as the run, with counters: both flavors' rules, the same ports
    const kernel = labSide(await pool.get(plan.topology, { fresh: plan.mixedHosts }));
    await loadRulesets(plan, kernel);
    let explained = false;
    // judgeDifference: a diverging repetition is kept however late it comes (paired-run.ts KEEP_NOTABLE)
    for await (const r of pairedRun(plan, { kernel, counters: true, traces: 'all', judges: [judgeDifference] })) {
      const s = r.step;
      if (s.kind === 'command' && !explained) {
        // a command step (iptables, nft) one side refused and the other ran: what each said
        const c = r.commanded;
        const parted = Object.keys(c?.kernel ?? {}).filter((h) => (c!.model[h] === null) !== (c!.kernel![h] === null));
        for (const h of parted) {
          explained = true;
          md.push(`## The first diverging step: ${s.label} on ${h}`, '');
          md.push('```', `model:  ${c!.model[h] ?? 'ran'}`, `kernel: ${c!.kernel![h] ?? 'ran'}`, '```', '');
        }
      }
      if (s.kind !== 'probe') continue;
      for (const [i, k] of r.kernel!.entries()) {
        observed[s.index] ??= k;
        if (explained || judge(r.model[i]!, k).diffs.length === 0) continue;
        explained = true;
        const best = r.model[i]![0]!;
        const trace = r.traces[i] ?? [];
        const sport = s.sports[r.shown[i]!]!;
        md.push(`## The first diverging probe: ${s.label} (source port ${sport})`, '');
        md.push(firstParting(trace, k), '');
        md.push(
          '### The model',
          '',
          '```',
          renderPlain.trace(trace),
          renderPlain.observation(best.value, best.p),
          '```',
          '',
        );
        if (r.model[i]!.length > 1) md.push(`(the model allows ${r.model[i]!.length} results; the first is shown)`, '');
        const moved = (k.rulesHit ?? []).map(
          (h) =>
            `<li class="mono">${esc(`${h.host} ${h.table} ${h.chain} ${h.rule}: ${h.packets} packet(s)`)}` +
            ` ${esc(h.spec)}</li>`,
        );
        const p = { ...s.probe, sport };
        html = tracePage({
          title: `${c.name}: ${s.label} (source port ${p.sport})`,
          probe: p,
          results: r.model[i]!.map((m, j) => ({ p: m.p, observation: m.value, trace: r.allTraces[i]?.[j] ?? [] })),
          kernel: k,
          extra:
            `${differences}<p>${esc(firstParting(trace, k).replace(/\*\*|`/g, ''))}</p><h2>Rules whose` +
            ` counters moved on the kernel</h2><ul>${moved.join('')}</ul>`,
        });
        md.push(
          '### The kernel',
          '',
          '```',
          renderPlain.observation(k),
          '',
          'rules whose counters moved:',
          ...(k.rulesHit ?? []).map(
            (h) => `  ${h.host} ${h.table} ${h.chain} ${h.rule}: ${h.packets} packet(s) ${h.spec}`,
          ),
          '```',
          '',
        );
      }
    }
    if (!explained)
      md.push(
        'The divergence did not show again on this run (a probabilistic rule may have taken the' +
          " model's branch this time).",
        '',
      );
  }
  if (!pool) {
    // no kernel here (a campaign against a model mutant): the page draws the model's path of the first
    // differing probe, from the same plan
    const { steps: reps } = await runPlan(plan);
    const step =
      reps.find((s) => s.label === input.diffs[0]?.step && s.trace && s.probe) ?? reps.find((s) => s.trace && s.probe);
    const first = step?.model[0]?.[0];
    if (step?.trace && step.probe && first)
      html = tracePage({
        title: `${c.name}: ${step.label}`,
        probe: step.probe,
        results: [{ p: first.p, observation: first.value, trace: step.trace }],
        extra: differences,
      });
  }
  const steps = input.c.steps.map((s, i) =>
    observed[i]
      ? {
          ...s,
          observed: { outcome: observed[i]!.outcome, responder: observed[i]!.responder, seen: observed[i]!.seen },
        }
      : s,
  );
  const saved: CaseFile = { ...input.c, steps };
  if (input.c.services?.text) {
    // generated Services go beside the case, so that `nfconform check case.json` replays it
    writeFileSync(join(out, 'services.json'), JSON.stringify(JSON.parse(input.c.services.text), null, 1) + '\n');
    const { text: _t, ...rest } = input.c.services;
    saved.services = { ...rest, file: 'services.json' };
  }
  writeFileSync(join(out, 'case.json'), JSON.stringify({ ...saved, file: undefined }, null, 2) + '\n');
  writeFileSync(join(out, 'repro.sh'), reproScript(plan), { mode: 0o755 });
  writeFileSync(join(out, 'explain.md'), md.join('\n') + '\n');
  writeFileSync(join(out, 'explain.html'), html);
  return out;
}
