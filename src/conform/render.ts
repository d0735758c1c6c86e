// Human-readable rendering of traces and observations: coloured, one line per step.
import picocolors from 'picocolors';
import type { TraceEvent, Observation } from '../model/index.ts';

/** the probability of the branch a choice took */
const branchP = (e: { taken: boolean; p: number }): number => (e.taken ? e.p : 1 - e.p);

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
type Colors = ReturnType<typeof picocolors.createColors>;
const plain = picocolors.createColors(false);

export function renderTrace(events: readonly TraceEvent[], pc: Colors = picocolors): string {
  const lines: string[] = [];
  for (const e of events) {
    switch (e.kind) {
      case 'stage':
        lines.push(pc.bold(pc.cyan(`▶ ${e.name}: ${e.packet}`)));
        break;
      case 'route':
        lines.push(`  ${pad(e.host, 7)} ${pc.dim('route')} ${e.dst}: ${e.result}`);
        break;
      case 'hop':
        lines.push(`  ${pc.dim(`  ${e.from} → ${e.to}`)}`);
        break;
      case 'bridge':
        lines.push(`  ${pad(e.host, 7)} ${pc.dim('bridge')} ${e.bridge}: ${e.what}`);
        break;
      case 'neigh':
        lines.push(`  ${pad(e.host, 7)} ${pc.dim('neighbour')} ${e.dev}: ${e.what}`);
        break;
      case 'hook':
        lines.push(
          `  ${pad(e.host, 7)} ${pc.bold(e.hook)}${e.in ? ` in=${e.in}` : ''}${e.out ? ` out=${e.out}` : ''}` +
            `  ${pc.dim(e.packet)}`,
        );
        break;
      case 'ct':
        lines.push(`  ${pad(e.host, 7)}   ${pc.dim('conntrack')} ${e.what}`);
        break;
      case 'rule': {
        const where = `${e.table} ${e.chain} ${e.rule === 'policy' ? 'policy' : `#${e.rule}`}`;
        const body = e.rule === 'policy' ? '' : ` ${pc.dim(e.spec)}`;
        const act = e.matched ? pc.green(`→ ${e.action}`) : pc.dim('(no match)');
        lines.push(`  ${pad(e.host, 7)}   ${where}${body} ${act}`);
        break;
      }
      case 'nat':
        lines.push(`  ${pad(e.host, 7)}   ${pc.magenta(`NAT ${e.what}`)}: ${e.before} ⇒ ${e.after}`);
        break;
      case 'choice':
        lines.push(`  ${pc.yellow(`  ⑂ ${e.label}: ${e.taken ? 'taken' : 'not taken'} (p=${branchP(e).toFixed(4)})`)}`);
        break;
      case 'unknown':
        lines.push(`  ${pad(e.host, 7)}   ${pc.yellow(unknownText(e))}`);
        break;
      case 'drop':
        lines.push(`  ${pad(e.host, 7)} ${pc.red(`✗ ${e.reason}`)}`);
        break;
      case 'deliver':
        lines.push(`  ${pad(e.host, 7)} ${pc.green(`✓ delivered to the local stack: ${e.what}`)}`);
        break;
    }
  }
  return lines.join('\n');
}

/** A rule the model cannot evaluate, as a trace line: which answer this branch follows (spec/semantics.md §10). */
export function unknownText(e: Extract<TraceEvent, { kind: 'unknown' }>): string {
  const what =
    e.branch === 'no effect'
      ? 'whatever it answers changes nothing'
      : e.branch === 'fate unknown'
        ? "the packet's fate is unknown from here"
        : `this branch assumes it ${e.branch === 'matches' ? 'matches' : 'does not match'}`;
  return `? ${e.table} ${e.chain} #${e.rule} ${e.spec}: ${e.why} is not modelled; ${what}`;
}

/** The rules an indeterminate result hinges on, one line each. */
export function decidedByText(o: Observation): string[] {
  return (o.indeterminate?.decidedBy ?? []).map(
    (r) => `${r.host} ${r.hook} ${r.table} ${r.chain} #${r.rule} ${r.spec}  (${r.why})`,
  );
}

export function renderObservation(o: Observation, p?: number, pc: Colors = picocolors): string {
  const ind = o.indeterminate;
  if (ind) {
    const head =
      `${pc.bold('outcome')} ${pc.yellow('indeterminate')}: ${ind.outcomes.join(' or ')}` +
      (ind.open ? ' (an unmodelled target took the packet: any of these)' : '') +
      (p !== undefined && p < 1 ? pc.dim(` (p=${p.toFixed(6)})`) : '');
    return [
      head,
      '  decided by rules the model cannot evaluate (spec/semantics.md §10):',
      ...decidedByText(o).map((t) => `    ${t}`),
      ...(ind.possible.length > 1 || !ind.open
        ? [
            '  possible results:',
            ...ind.possible.map(
              (x, i) => `    ${i + 1}. ${renderObservation(x, undefined, pc).split('\n').join('\n       ')}`,
            ),
          ]
        : []),
    ].join('\n');
  }
  const colour =
    o.outcome === 'delivered' || o.outcome === 'echo-reply' ? pc.green : o.outcome === 'dropped' ? pc.red : pc.yellow;
  const parts = [
    `${pc.bold('outcome')} ${colour(o.outcome)}${p !== undefined && p < 1 ? pc.dim(` (p=${p.toFixed(6)})`) : ''}`,
  ];
  if (o.responder) parts.push(`responder ${o.responder}`);
  if (o.seen) parts.push(`seen ${o.seen.src} → ${o.seen.dst}`);
  if (o.icmp) parts.push(`icmp ${o.icmp}`);
  if (o.droppedAt) {
    const d = o.droppedAt;
    parts.push(
      `dropped at ${d.host}` +
        (d.hook ? ` ${d.hook} ${d.table} ${d.chain} ${d.rule === 'policy' ? 'policy' : `#${d.rule}`}` : '') +
        (d.reason ? ` (${d.reason})` : ''),
    );
  }
  const ct = Object.entries(o.conntrack).flatMap(([h, list]) =>
    list.map((c) => `    ${h}: ${c.proto} ${c.orig}  reply ${c.reply}`),
  );
  return [parts.join(', '), ...(ct.length ? ['  conntrack:', ...ct] : [])].join('\n');
}

export const renderPlain = {
  trace: (events: readonly TraceEvent[]) => renderTrace(events, plain),
  observation: (o: Observation, p?: number) => renderObservation(o, p, plain),
};
