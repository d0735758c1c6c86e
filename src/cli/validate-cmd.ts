// `nfconform validate`: a node's iptables-save or nft dump against its Services, per Service
// pass / fail / unsupported, the smallest failing probe explained, and the rules no Service explains.
import pc from 'picocolors';
import { validateNode, type ValidationReport, type ServiceVerdict } from '../conform/validate.ts';
import { renderTrace, renderObservation } from '../conform/render.ts';
import { labSkipReason } from '../lab/prereq.ts';
import { DockerLabError } from '../lab/docker-site.ts';
import { readText } from './load.ts';
import { formatObjectWarning } from '../kube/objects.ts';
import { readFlags, cmdline, sidesOf, iptablesOf, proxyModeOf } from './args.ts';
import { xml, writeOut } from './report.ts';
import { VALIDATE_USAGE } from './usage.ts';

const MARK: Record<ServiceVerdict['status'], string> = {
  pass: pc.green('✓ pass'),
  fail: pc.red('✗ fail'),
  unsupported: pc.yellow('? unsupported'),
};

function failureText(v: ServiceVerdict): string {
  const f = v.failure!;
  const out = [`${pc.bold(v.service)}: smallest failing probe: ${f.label}`, `  the Services say: ${f.oracle}`];
  if (f.modelMiss) {
    out.push(`  ${pc.red(f.modelMiss)}`);
    if (f.modelTrace)
      out.push(
        renderTrace(f.modelTrace)
          .split('\n')
          .map((l) => `      ${l}`)
          .join('\n'),
      );
  }
  if (f.kernelMiss && f.kernel) {
    out.push(`  ${pc.red(f.kernelMiss)}`, `    kernel observed: ${renderObservation(f.kernel)}`);
    for (const h of f.kernel.rulesHit ?? [])
      out.push(
        `      ${h.host} ${h.table} ${h.chain} ${h.rule === 'policy' ? 'policy' : `#${h.rule}`}` +
          ` ${h.spec || h.verdict} (${h.packets} pkt)`,
      );
  }
  return out.join('\n');
}

export function renderValidation(r: ValidationReport): string {
  const out: string[] = [];
  const width = Math.max(8, ...r.services.map((s) => s.service.length));
  out.push(pc.bold(`${'service'.padEnd(width)}  status          probes  note`));
  for (const s of r.services) {
    const note = s.status === 'fail' ? s.failure!.label : (s.reason ?? '');
    out.push(
      `${s.service.padEnd(width)} ` +
        ` ${MARK[s.status]}${' '.repeat(16 - s.status.length - 2)}${String(s.probes).padStart(6)} ` +
        ` ${pc.dim(note)}`,
    );
  }
  const failed = r.services.filter((s) => s.status === 'fail');
  if (failed.length) out.push('', ...failed.map(failureText));
  if (r.warnings.length) {
    out.push('', pc.yellow(`warnings: ${r.warnings.length} rule(s) or chain(s) no Service explains`));
    const grouped = new Map<string, string[]>();
    for (const w of r.warnings) {
      const k = `${w.line ? `line ${w.line}: ` : ''}${w.table} ${w.text}`;
      grouped.set(k, [...(grouped.get(k) ?? []), w.why]);
    }
    for (const [k, why] of grouped) out.push(`  ${k}\n      ${pc.dim(why.join('; '))}`);
  }
  if (r.objectWarnings.length) {
    out.push('', pc.yellow(`invalid objects, skipped as kube-proxy skips them: ${r.objectWarnings.length}`));
    for (const w of r.objectWarnings.slice(0, 20)) out.push(`  ${formatObjectWarning(w)}`);
    if (r.objectWarnings.length > 20) out.push(`  and ${r.objectWarnings.length - 20} more`);
  }
  if (r.unsupported.length) {
    out.push('', pc.yellow(`rules the model cannot evaluate (kept and evaluated as unknown, or left out):`));
    for (const u of r.unsupported) out.push(`  line ${u.line}: ${u.text}\n      ${pc.dim(u.reason)}`);
  }
  if (r.kernelSkip) out.push('', pc.yellow(`kernel replay skipped: ${r.kernelSkip}`));
  const n = (s: ServiceVerdict['status']) => r.services.filter((x) => x.status === s).length;
  const skipped = r.probes.filter((p) => p.status === 'skipped').length;
  out.push(
    '',
    pc.dim(
      `pod traffic told by: ${r.detector}; probes: ${r.sent} sent, ${skipped} not sent (--json lists each, and why)`,
    ),
  );
  const line =
    `${r.services.length} Services on node ${r.node}: ${n('pass')} passed,` +
    ` ${n('fail')} failed, ${n('unsupported')} unsupported; ${r.warnings.length} warnings`;
  out.push('', n('fail') || r.sent === 0 ? pc.red(line) : pc.green(line));
  if (r.sent === 0) out.push(pc.red('nothing was probed: this run checked nothing, so it fails'));
  return out.join('\n');
}

/** JUnit: one test case per probe of the plan (sent: pass or failure per side; not sent: skipped, with why). */
function writeValidationJunit(path: string, r: ValidationReport): void {
  const cls = (service: string) => `validate.${xml(r.node)}.${xml(service)}`;
  const cases = r.probes.map((p) => {
    const head = `  <testcase classname="${cls(p.service)}" name="${xml(p.label)}"`;
    if (p.status === 'skipped') return `${head}><skipped message="${xml(p.why ?? '')}"/></testcase>`;
    const misses = [p.modelMiss, p.kernelMiss].filter(Boolean).join('\n');
    const model = p.model === 'indeterminate' ? `indeterminate (${p.indeterminate ?? ''})` : (p.model ?? 'not run');
    const sides = `model: ${model}, kernel: ${p.kernel ?? 'not run'}; the Services say: ${p.oracle ?? ''}`;
    if (misses) return `${head}><failure message="${xml(sides)}">${xml(misses)}</failure></testcase>`;
    return `${head}><system-out>${xml(sides)}</system-out></testcase>`;
  });
  // Services without any probe (unsupported, or nothing to probe) still show, as skipped
  for (const s of r.services)
    if (!r.probes.some((p) => p.service === s.service))
      cases.push(
        `  <testcase classname="${cls(s.service)}" name="${xml(s.service)}"><skipped` +
          ` message="${xml(`${s.status === 'unsupported' ? 'unsupported' : 'not probed'}: ${s.reason ?? ''}`)}"/>` +
          `</testcase>`,
      );
  if (r.sent === 0)
    cases.push(
      `  <testcase classname="validate.${xml(r.node)}" name="at least one probe"><failure` +
        ` message="nothing was probed: this run checked nothing"/></testcase>`,
    );
  const failures = cases.filter((c) => c.includes('<failure')).length;
  const skipped = cases.filter((c) => c.includes('<skipped')).length;
  writeOut(
    path,
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="nfconform validate"` +
      ` tests="${cases.length}" failures="${failures}"` +
      ` skipped="${skipped}">\n${cases.join('\n')}\n</testsuite>\n`,
  );
}

export async function validateCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values } = readFlags(argv, {
    services: { type: 'string' },
    ruleset: { type: 'string' },
    snapshot: { type: 'string' },
    node: { type: 'string' },
    'node-ip': { type: 'string', multiple: true, default: [] },
    'pod-cidr': { type: 'string' },
    'cluster-cidr': { type: 'string' },
    sides: { type: 'string' },
    runtime: { type: 'string' },
    backend: { type: 'string' },
    iptables: { type: 'string' },
    mode: { type: 'string' },
    strict: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    junit: { type: 'string' },
  });
  if (!values.services || !values.ruleset === !values.snapshot) throw cmdline(VALIDATE_USAGE);
  // --snapshot: the node's rules, addresses and pod network from a snapshot of it (spec/snapshot.md);
  // --node-ip and --pod-cidr, when given, still win
  const snap = values.snapshot ? (await import('./snapshot-load.ts')).snapshotNode(values.snapshot) : undefined;
  const iptables = iptablesOf(values.iptables) ?? snap?.backend;
  const nodeIps = values['node-ip'].length ? values['node-ip'] : (snap?.nodeIps ?? []);
  const podCIDR = values['pod-cidr'] ?? snap?.podCIDR;
  const how = sidesOf(values, 'both');
  const kernelSkip = how.sides === 'model' ? undefined : await labSkipReason(how.runtime);
  if (kernelSkip && how.runtime === 'docker') throw new DockerLabError(kernelSkip);
  const tty = process.stderr.isTTY && !values.json;
  const report = await validateNode({
    servicesText: readText(values.services),
    servicesFile: values.services,
    rulesetText: snap ? snap.rulesetText : readText(values.ruleset!),
    rulesetFile: snap ? snap.rulesetFile : values.ruleset!,
    ...(snap?.besides ? { besides: snap.besides } : {}),
    // the dump's language from its content, unless --mode says (kube-proxy's iptables or nftables mode)
    ...(values.mode !== undefined ? { mode: proxyModeOf(values.mode) } : {}),
    nodeIps,
    ...(values.node ? { nodeName: values.node } : {}),
    ...(podCIDR ? { podCIDR } : {}),
    ...(values['cluster-cidr'] ? { clusterCIDR: values['cluster-cidr'] } : {}),
    sides: how.sides,
    runtime: how.runtime,
    ...(iptables ? { iptables } : {}),
    ...(kernelSkip ? { kernelSkip } : {}),
    onProgress: (done, total) => {
      if (tty) process.stderr.write(done === total ? '\r\x1b[K' : `\r\x1b[K${pc.dim(`probe ${done + 1}/${total}`)}`);
    },
  });
  if (values.junit) writeValidationJunit(values.junit, report);
  if (values.json)
    write(
      JSON.stringify(
        {
          ...report,
          services: report.services.map((s) =>
            s.failure ? { ...s, failure: { ...s.failure, modelTrace: undefined } } : s,
          ),
        },
        null,
        2,
      ),
    );
  else write(renderValidation(report));
  const failed = report.services.some((s) => s.status === 'fail');
  const strictFail =
    values.strict &&
    (report.warnings.length > 0 ||
      report.objectWarnings.length > 0 ||
      report.services.some((s) => s.status === 'unsupported'));
  // a run that probed nothing checked nothing: a failure, never a pass
  return failed || strictFail || report.sent === 0 ? 1 : 0;
}
