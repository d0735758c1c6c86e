// `nfconform trace`: one probe through the model, printed as an annotated path.
import { parseArgs } from 'node:util';
import { InputError, makeLab, newWorld, runProbe, type Probe, type ProbeProto } from '../model/index.ts';
import { loadTopology, loadRulesets } from './load.ts';
import { renderTrace, renderObservation } from './render.ts';

export const TRACE_USAGE = `usage: nfconform trace --topology k8s-node|FILE --ruleset HOST=FILE [--ruleset HOST=FILE ...]
                      --from HOST (tcp|udp|icmp) DST[:PORT] [--src IP] [--sport N] [--json] [--verbose]`;

const cmdline = (reason: string) => new InputError('syntax', reason, { file: '<command line>', line: 1, col: 1 });

export function parseTarget(proto: string | undefined, target: string | undefined): Pick<Probe, 'proto' | 'dst' | 'dport'> {
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') throw cmdline(`expected tcp, udp or icmp, got "${proto ?? ''}"\n${TRACE_USAGE}`);
  if (!target) throw cmdline(`missing destination\n${TRACE_USAGE}`);
  const [dst, port] = target.split(':');
  const out: Pick<Probe, 'proto' | 'dst' | 'dport'> = { proto: proto as ProbeProto, dst: dst! };
  if (port !== undefined) {
    if (!/^\d+$/.test(port)) throw cmdline(`bad port in "${target}"`);
    out.dport = Number(port);
  }
  return out;
}

export function traceCommand(argv: string[], write: (s: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      topology: { type: 'string', default: 'k8s-node' },
      ruleset: { type: 'string', multiple: true, default: [] },
      from: { type: 'string' },
      src: { type: 'string' },
      sport: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (!values.from) throw cmdline(`--from HOST is required\n${TRACE_USAGE}`);
  const net = loadTopology(values.topology);
  const lab = makeLab(net, loadRulesets(values.ruleset, net));
  const probe: Probe = { from: values.from, ...parseTarget(positionals[0], positionals[1]) };
  if (values.src) probe.src = values.src;
  if (values.sport) {
    if (!/^\d+$/.test(values.sport)) throw cmdline(`bad --sport "${values.sport}"`);
    probe.sport = Number(values.sport);
  }
  const results = runProbe(lab, newWorld(lab), probe, { verbose: values.verbose });
  if (values.json) {
    write(JSON.stringify({ probe, results: results.map((r) => ({ p: r.p, observation: r.value.observation, trace: r.value.trace })) }, null, 2));
    return 0;
  }
  results.forEach((r, i) => {
    if (results.length > 1) write(`\n── possibility ${i + 1} of ${results.length}, p=${r.p.toFixed(6)} ──`);
    write(renderTrace(r.value.trace));
    write(renderObservation(r.value.observation, r.p));
  });
  return 0;
}
