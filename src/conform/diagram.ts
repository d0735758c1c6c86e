// A trace as a diagram: stages (each packet of the exchange), the hosts it crosses in order, the hooks each
// host runs in kernel order (spec/semantics.md §9) and, inside each hook, the tables' rules that were
// evaluated, the one that decided, NAT rewrites and conntrack decisions. One structure, drawn as text
// (`trace --diagram`) and as HTML (html.ts).
import { unknownText } from './render.ts';
import type { TraceEvent } from '../model/index.ts';
import picocolors from 'picocolors';

export type DiagramEntry =
  | {
      kind: 'rule';
      table: string;
      chain: string;
      rule: number | 'policy';
      matched: boolean;
      action: string;
      spec: string;
      /** the last matching rule (or policy) of its table in this hook: the one whose verdict stood */
      decided: boolean;
    }
  | { kind: 'nat'; what: string; before: string; after: string }
  | { kind: 'ct'; what: string }
  | { kind: 'note'; what: string }
  | { kind: 'choice'; label: string; p: number; taken: boolean }
  | { kind: 'drop'; reason: string }
  | { kind: 'deliver'; what: string };

/** One hook run on a host (or, with no hook, what the host did before its first hook: routing, bridging). */
export interface DiagramStep {
  hook?: { name: string; in: string; out: string; packet: string };
  entries: DiagramEntry[];
}

export interface DiagramHost {
  host: string;
  /** the link the packet arrived over ("pod2/eth0 → node/veth-pod2"), none for the sender */
  via?: string;
  steps: DiagramStep[];
}

export interface DiagramStage {
  title: string;
  packet: string;
  hosts: DiagramHost[];
}

export function diagramOf(events: readonly TraceEvent[]): DiagramStage[] {
  const stages: DiagramStage[] = [];
  let stage: DiagramStage | undefined;
  let host: DiagramHost | undefined;
  let via: string | undefined;
  const current = (name: string): DiagramStep => {
    if (!stage) stages.push((stage = { title: '', packet: '', hosts: [] }));
    if (!host || host.host !== name) {
      stage.hosts.push((host = { host: name, steps: [], ...(via ? { via } : {}) }));
      via = undefined;
    }
    if (!host.steps.length) host.steps.push({ entries: [] });
    return host.steps[host.steps.length - 1]!;
  };
  for (const e of events) {
    switch (e.kind) {
      case 'stage':
        stages.push((stage = { title: e.name, packet: e.packet, hosts: [] }));
        host = undefined;
        break;
      case 'hop':
        via = `${e.from} → ${e.to}`;
        host = undefined;
        break;
      case 'hook':
        current(e.host);
        host!.steps.push({ hook: { name: e.hook, in: e.in, out: e.out, packet: e.packet }, entries: [] });
        break;
      case 'rule':
        current(e.host).entries.push({
          kind: 'rule',
          table: e.table,
          chain: e.chain,
          rule: e.rule,
          matched: e.matched,
          action: e.action,
          spec: e.spec,
          decided: false,
        });
        break;
      case 'nat':
        current(e.host).entries.push({ kind: 'nat', what: e.what, before: e.before, after: e.after });
        break;
      case 'ct':
        current(e.host).entries.push({ kind: 'ct', what: e.what });
        break;
      case 'route':
        current(e.host).entries.push({ kind: 'note', what: `route ${e.dst}: ${e.result}` });
        break;
      case 'bridge':
        current(e.host).entries.push({ kind: 'note', what: `bridge ${e.bridge}: ${e.what}` });
        break;
      case 'neigh': {
        // another host heard the ARP request: a note where the packet is, not a step of its path
        const step = host ? host.steps[host.steps.length - 1] : undefined;
        const entry: DiagramEntry = { kind: 'note', what: `${e.host} neighbour ${e.dev}: ${e.what}` };
        if (step) step.entries.push(entry);
        else current('?').entries.push(entry);
        break;
      }
      case 'choice': {
        // a probabilistic branch belongs where the packet is: the last host seen
        const step = host ? host.steps[host.steps.length - 1] : undefined;
        const entry: DiagramEntry = { kind: 'choice', label: e.label, p: e.p, taken: e.taken };
        if (step) step.entries.push(entry);
        else current('?').entries.push(entry);
        break;
      }
      case 'unknown':
        current(e.host).entries.push({ kind: 'note', what: unknownText(e) });
        break;
      case 'drop':
        current(e.host).entries.push({ kind: 'drop', reason: e.reason });
        break;
      case 'deliver':
        current(e.host).entries.push({ kind: 'deliver', what: e.what });
        break;
    }
  }
  for (const s of stages)
    for (const h of s.hosts)
      for (const step of h.steps) {
        const last = new Map<string, Extract<DiagramEntry, { kind: 'rule' }>>();
        for (const en of step.entries) if (en.kind === 'rule' && en.matched) last.set(en.table, en);
        for (const en of last.values()) en.decided = true;
      }
  return stages.filter((s) => s.hosts.length || s.title);
}

/** The probability a choice entry's branch had, as taken. */
export const branchP = (c: { p: number; taken: boolean }) => (c.taken ? c.p : 1 - c.p);

type Colors = ReturnType<typeof picocolors.createColors>;

/** The diagram in a terminal: a box per host, its hooks in kernel order, the link between hosts. */
export function renderDiagramText(stages: readonly DiagramStage[], pc: Colors = picocolors): string {
  const out: string[] = [];
  for (const s of stages) {
    out.push(pc.bold(pc.cyan(`▶ ${s.title}: ${s.packet}`)));
    s.hosts.forEach((h, i) => {
      if (h.via || i > 0) out.push(`   │ ${pc.dim(h.via ?? '')}`, '   ▼');
      out.push(`┌─ ${pc.bold(h.host)}`);
      for (const step of h.steps) {
        let bar = '│ ';
        if (step.hook) {
          const io = `${step.hook.in ? ` in=${step.hook.in}` : ''}${step.hook.out ? ` out=${step.hook.out}` : ''}`;
          out.push(`├─┬ ${pc.bold(step.hook.name)}${io}  ${pc.dim(step.hook.packet)}`);
          bar = '│ │ ';
        }
        for (const en of step.entries) out.push(bar + entryText(en, pc));
      }
      out.push('└─');
    });
  }
  return out.join('\n');
}

function entryText(en: DiagramEntry, pc: Colors): string {
  switch (en.kind) {
    case 'rule': {
      const where = `${en.table} ${en.chain} ${en.rule === 'policy' ? 'policy' : `#${en.rule}`}`;
      const body = en.rule === 'policy' ? '' : ` ${pc.dim(en.spec)}`;
      const verdict = en.matched ? pc.green(`→ ${en.action}`) : pc.dim('(no match)');
      return `${where}${body} ${verdict}${en.decided ? pc.bold('  ◀ decided') : ''}`;
    }
    case 'nat':
      return pc.magenta(`NAT ${en.what}: ${en.before} ⇒ ${en.after}`);
    case 'ct':
      return pc.blue(`conntrack ${en.what}`);
    case 'note':
      return pc.dim(en.what);
    case 'choice':
      return pc.yellow(`⑂ ${en.label}: ${en.taken ? 'taken' : 'not taken'} (p=${branchP(en).toFixed(4)})`);
    case 'drop':
      return pc.red(`✗ ${en.reason}`);
    case 'deliver':
      return pc.green(`✓ delivered to the local stack: ${en.what}`);
  }
}
