// `nfconform trace`: one probe through the model, printed as an annotated path.
import {
  quote,
  InputError,
  makeLab,
  newWorld,
  runProbe,
  printRuleset,
  type Probe,
  type ProbeProto,
  type Ruleset,
  type ModelLab,
  parseIp,
  rulesetWarnings,
  KERNEL,
} from '../model/index.ts';
import { loadTopology, loadHostRules } from './load.ts';
import { renderTrace, renderObservation } from '../conform/render.ts';
import { sideBySide } from './side-by-side.ts';
import { diagramOf, renderDiagramText } from '../conform/diagram.ts';
import { writeOut } from './report.ts';
import { FIRST_PORT } from '../conform/ports.ts';
import type { LabRuntime } from '../lab/site.ts';
import { loadTopologySpec } from './load.ts';
import { readFlags, cmdline, runtimeOf, intOf } from './args.ts';
import { TRACE_USAGE } from './usage.ts';

export function parseTarget(
  proto: string | undefined,
  target: string | undefined,
): Pick<Probe, 'proto' | 'dst' | 'dport'> {
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp')
    throw cmdline(`expected tcp, udp or icmp, got "${proto ?? ''}"\n${TRACE_USAGE}`);
  if (!target) throw cmdline(`missing destination\n${TRACE_USAGE}`);
  // DST or DST:PORT, nothing more: "10.96.0.100:80:90" is refused, not read as port 80
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(target);
  if (!m) throw cmdline(`bad destination ${quote(target)}: expected ADDRESS or ADDRESS:PORT`);
  const out: Pick<Probe, 'proto' | 'dst' | 'dport'> = { proto: proto as ProbeProto, dst: m[1]! };
  if (m[2] !== undefined) {
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw cmdline(`bad port in ${quote(target)}: 1..65535`);
    out.dport = port;
  }
  return out;
}

export async function traceCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values, positionals } = readFlags(
    argv,
    {
      topology: { type: 'string' },
      snapshot: { type: 'string' },
      ruleset: { type: 'string', multiple: true, default: [] },
      from: { type: 'string' },
      src: { type: 'string' },
      sport: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      diagram: { type: 'boolean', default: false },
      html: { type: 'string' },
      kernel: { type: 'boolean', default: false },
      runtime: { type: 'string' },
      backend: { type: 'string' },
      lang: { type: 'string' },
    },
    true,
  );
  const lang = values.lang;
  if (lang !== undefined && lang !== 'iptables' && lang !== 'nft')
    throw cmdline(`--lang must be iptables or nft, not ${JSON.stringify(lang.slice(0, 20))}\n${TRACE_USAGE}`);
  const runtime = runtimeOf(values.runtime, values.backend, 'the --kernel lab');
  if (!values.from) throw cmdline(`--from HOST is required\n${TRACE_USAGE}`);
  if (values.snapshot !== undefined && (values.topology !== undefined || values.ruleset.length || values.kernel))
    throw cmdline(
      `--snapshot takes the topology and rules from the snapshot: no --topology, --ruleset or --kernel\n${TRACE_USAGE}`,
    );
  const topology = values.topology ?? 'k8s-node';
  let lab: ModelLab;
  // nft rulesets for the --kernel lab, as `nft -f` loads them
  let nftText = new Map<string, string>();
  let from = values.from;
  let notes: string[] = [];
  if (values.snapshot !== undefined) {
    const { snapshotLab, snapshotSource } = await import('./snapshot-load.ts');
    const s = snapshotLab(values.snapshot, [values.from]);
    lab = s.lab;
    notes = s.built.notes;
    from = snapshotSource(s, values.from);
  } else {
    const net = loadTopology(topology);
    // each file's language is told by its content (nft: `table`, `add ...`, JSON), or by --lang
    const rules = loadHostRules(values.ruleset, net, lang);
    nftText = rules.nftText;
    lab = makeLab(net, rules.xt, new Map(), KERNEL, { nft: rules.nft });
  }
  // rules naming interfaces or addresses the topology lacks: said first, the result may mislead otherwise
  const warnings = [...lab.rulesets].flatMap(([host, rs]) => rulesetWarnings(lab.net, host, rs).map((w) => w.message));
  const probe: Probe = { from, ...parseTarget(positionals[0], positionals[1]) };
  if (values.src) probe.src = values.src;
  else if (values.snapshot !== undefined && parseIp(values.from) !== undefined) probe.src = values.from;
  if (values.sport) probe.sport = intOf('--sport', values.sport);
  if (values.kernel && probe.sport === undefined) probe.sport = FIRST_PORT;
  const results = runProbe(lab, newWorld(lab), probe, { verbose: values.verbose });
  if (values.kernel && runtime === 'docker') {
    const { dockerSkipReason, DockerLabError } = await import('../lab/docker-site.ts');
    const why = await dockerSkipReason();
    if (why) throw new DockerLabError(why);
  }
  const kernel = values.kernel ? await kernelProbe(topology, lab.rulesets, nftText, probe, runtime) : undefined;
  if (values.html) {
    const { tracePage } = await import('../conform/html.ts');
    const title =
      `nfconform trace: ${probe.from} →` +
      ` ${probe.proto} ${probe.dst}${probe.dport !== undefined ? `:${probe.dport}` : ''}`;
    writeOut(
      values.html,
      tracePage({
        title,
        probe,
        results: results.map((r) => ({ p: r.p, observation: r.value.observation, trace: r.value.trace })),
        kernel,
      }),
    );
  }
  if (values.json) {
    write(
      JSON.stringify(
        {
          probe,
          ...(notes.length ? { notes } : {}),
          ...(warnings.length ? { warnings } : {}),
          results: results.map((r) => ({
            p: r.p,
            observation: r.value.observation,
            trace: r.value.trace,
            // an indeterminate result: each possible branch's own trace (spec/semantics.md §10)
            ...(r.value.branches
              ? { branches: r.value.branches.map((b) => ({ observation: b.observation, trace: b.trace })) }
              : {}),
          })),
          ...(kernel ? { kernel } : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const n of notes) write(`snapshot: ${n}`);
  for (const w of warnings) write(`warning: ${w}`);
  const show = (trace: Parameters<typeof renderTrace>[0]) =>
    write(values.diagram ? renderDiagramText(diagramOf(trace)) : renderTrace(trace));
  results.forEach((r, i) => {
    if (results.length > 1) write(`\n── possibility ${i + 1} of ${results.length}, p=${r.p.toFixed(6)} ──`);
    const branches = r.value.branches;
    if (branches) {
      // indeterminate: each branch the unknown rules allow, with its own path
      branches.forEach((b, j) => {
        write(`\n── branch ${j + 1} of ${branches.length} (what the unknown rules decide is assumed) ──`);
        show(b.trace);
        write(renderObservation(b.observation));
      });
      write('');
    } else show(r.value.trace);
    write(renderObservation(r.value.observation, r.p));
  });
  if (kernel) {
    write(`\n── model against the kernel (a fresh ${runtime === 'docker' ? 'Docker' : 'netns'} lab) ──`);
    write(
      sideBySide(
        results.map((r) => ({ p: r.p, value: r.value.observation })),
        kernel,
      ),
    );
  }
  return 0;
}

/** The same probe on the real kernel, in a lab built for it and removed afterwards. */
async function kernelProbe(
  topology: string,
  rulesets: ReadonlyMap<string, Ruleset>,
  nftText: ReadonlyMap<string, string>,
  probe: Probe,
  runtime: LabRuntime,
) {
  // the lab (execa, agents) is loaded only for --kernel: a model-only trace starts faster without it
  const { PairedLab } = await import('../conform/paired-lab.ts');
  const lab = await PairedLab.up(loadTopologySpec(topology), { runtime });
  try {
    // command-line files are not iptables-restore input: apply the canonical iptables-save form
    for (const [host, rs] of rulesets) {
      const r = await lab.kernel.apply(host, printRuleset(rs));
      if (!r.ok)
        throw new InputError('invalid', `the kernel refused the ruleset for ${host}: ${r.stderr}`, {
          file: `<${host}>`,
          line: 1,
          col: 1,
        });
    }
    for (const [host, text] of nftText) {
      const r = await lab.kernel.applyNft(host, text);
      if (!r.ok)
        throw new InputError('invalid', `the kernel refused the nft ruleset for ${host}: ${r.stderr}`, {
          file: `<${host}>`,
          line: 1,
          col: 1,
        });
    }
    return await lab.kernel.probe(probe, { counters: true });
  } finally {
    await lab.down();
  }
}
