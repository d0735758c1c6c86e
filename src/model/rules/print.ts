// Prints rules and rulesets in the canonical form iptables-save prints (spec/iptables.md §4).
import { formatCidr } from '../ip.ts';
import { KINDS, type Kind, type OptValue } from './kinds.ts';
import { type Rule, type Ruleset, type ExtInstance, type Table, TABLE_HOOKS, isBuiltinChain } from './types.ts';
import { matchDesc, targetDesc, type ExtensionDesc } from './descriptors.ts';
import { protocolName } from './netdb.ts';

const bang = (neg: boolean) => (neg ? '! ' : '');

/** A word as iptables-save writes it: quoted when it holds blanks or quotes (xtables_save_string). */
function word(w: string): string {
  if (w !== '' && !/[\s"'\\]/.test(w)) return w;
  return `"${w.replace(/(["\\])/g, '\\$1')}"`;
}

function printExt(desc: ExtensionDesc | undefined, ext: ExtInstance): string {
  // an instance the model cannot evaluate is printed back as it was written (spec/iptables.md §4)
  if (ext.opaque) return ext.opaque.args.map(word).join(' ');
  if (!desc) throw new Error(`internal: no descriptor for ${ext.name}`);
  const parts: string[] = [];
  for (const o of ext.opts) {
    const od = desc.options.find((d) => d.name === o.name && !d.storeAs);
    if (!od) throw new Error(`internal: option ${o.name} not in descriptor ${desc.name}`);
    if (od.omitWhen?.(o.value, o.neg) || od.unprintedWhen?.(o.value)) continue;
    const kind = KINDS[od.kind] as Kind<OptValue>;
    parts.push(
      `${bang(o.neg)}${o.name}${kind
        .print(o.value)
        .map((a) => ` ${a}`)
        .join('')}`,
    );
  }
  return parts.join(' ');
}

/** The rule text after "-A CHAIN", canonical. */
export function printRuleSpec(r: Rule): string {
  const parts: string[] = [];
  if (r.src) parts.push(`${bang(r.src.neg)}-s ${formatCidr(r.src.value)}`);
  if (r.dst) parts.push(`${bang(r.dst.neg)}-d ${formatCidr(r.dst.value)}`);
  if (r.inIface) parts.push(`${bang(r.inIface.neg)}-i ${r.inIface.value}`);
  if (r.outIface) parts.push(`${bang(r.outIface.neg)}-o ${r.outIface.value}`);
  if (r.proto) parts.push(`${bang(r.proto.neg)}-p ${protocolName(r.proto.value) ?? r.proto.value}`);
  if (r.frag) parts.push(`${bang(r.frag.neg)}-f`);
  for (const m of r.matches) {
    const body = printExt(matchDesc(m.name), m);
    parts.push(body ? `-m ${m.name} ${body}` : `-m ${m.name}`);
  }
  const t = r.target;
  if (t?.kind === 'verdict') parts.push(`-j ${t.verdict}`);
  else if (t?.kind === 'jump') parts.push(`-j ${t.chain}`);
  else if (t?.kind === 'goto') parts.push(`-g ${t.chain}`);
  else if (t?.kind === 'ext') {
    const body = printExt(targetDesc(t.ext.name), t.ext);
    parts.push(body ? `-j ${t.ext.name} ${body}` : `-j ${t.ext.name}`);
  }
  return parts.join(' ');
}

/** Identity of a rule for -D and for comparisons: its canonical text. */
export function ruleKey(r: Rule): string {
  return printRuleSpec(r);
}

export interface PrintOptions {
  counters?: boolean;
}

/** Built-in chains in hook order, then user chains by name, as iptables-save orders them. */
export function chainOrder(t: Table): string[] {
  const builtin = TABLE_HOOKS[t.name].filter((h) => t.chains.has(h));
  const user = [...t.chains.keys()].filter((n) => !isBuiltinChain(t.name, n)).sort();
  return [...builtin, ...user];
}

export function printTable(t: Table, opts: PrintOptions = {}): string {
  const lines = [`*${t.name}`];
  const order = chainOrder(t);
  for (const name of order) {
    const c = t.chains.get(name)!;
    const pc = c.policyCounters ?? [0, 0];
    lines.push(`:${name} ${c.policy ?? '-'} [${pc[0]}:${pc[1]}]`);
  }
  for (const name of order) {
    for (const r of t.chains.get(name)!.rules) {
      const rc = r.counters ?? [0, 0];
      const prefix = opts.counters ? `[${rc[0]}:${rc[1]}] ` : '';
      const spec = printRuleSpec(r);
      lines.push(`${prefix}-A ${name}${spec ? ` ${spec}` : ''}`);
    }
  }
  lines.push('COMMIT');
  return lines.join('\n');
}

export function printRuleset(rs: Ruleset, opts: PrintOptions = {}): string {
  return [...rs.tables.values()].map((t) => printTable(t, opts)).join('\n') + '\n';
}
