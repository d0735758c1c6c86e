// fast-check arbitraries for iptables rules and rulesets, driven by the
// descriptor table: a new option in the table is generated without touching this file.
import fc from 'fast-check';
import { EXTENSIONS, type ExtensionDesc, type OptionDesc } from '../model/index.ts';
import { KINDS, type Kind, type OptValue } from '../model/index.ts';
import { TABLE_HOOKS, type TableName, protocolName } from '../model/index.ts';
import { formatCidr } from '../model/index.ts';
import { parseSave } from '../model/index.ts';
import { InputError } from '../model/index.ts';

/** Text for one option of an extension, maybe negated; values from the kind's own arbitrary unless given. */
export function optionText(
  od: OptionDesc,
  values?: (kind: OptionDesc['kind']) => fc.Arbitrary<OptValue>,
): fc.Arbitrary<string> {
  const kind = KINDS[od.kind] as Kind<OptValue>;
  return fc
    .tuple(od.negatable ? fc.boolean() : fc.constant(false), values ? values(od.kind) : kind.arb(fc))
    .map(([neg, v]) => `${neg ? '! ' : ''}${od.name}${kind.arity === 0 ? '' : ` ${kind.print(v).join(' ')}`}`);
}

/** One extension with a subset of its options (at most one per group); may be refused by its own checks. */
export function extensionText(d: ExtensionDesc): fc.Arbitrary<string> {
  const usable = d.options.filter((o) => !o.noArb && !o.storeAs);
  return fc.subarray(usable, { minLength: 0, maxLength: Math.min(4, usable.length) }).chain((chosen) => {
    const seen = new Set<string>();
    const opts = chosen.filter((o) => (o.group ? !seen.has(o.group) && (seen.add(o.group), true) : true));
    return opts.length === 0
      ? fc.constant('')
      : fc.tuple(...opts.map((o) => optionText(o))).map((parts) => parts.join(' '));
  });
}

const PROTOS = [6, 17, 1, 0, 47];
const IFACES = ['eth0', 'eth1', 'cni0', 'veth+', 'lo'];

export interface RuleGenContext {
  table: TableName;
  /** the chain the rule goes into */
  chain: string;
  /** chains a rule may jump to */
  jumpTargets: readonly string[];
}

/** Keeps rules that iptables-restore would accept in this chain on their own. */
function acceptedAlone(ctx: RuleGenContext, spec: string): boolean {
  const decl = ctx.jumpTargets.map((c) => `:${c} - [0:0]`);
  if (!TABLE_HOOKS[ctx.table].includes(ctx.chain as never) && !ctx.jumpTargets.includes(ctx.chain))
    decl.push(`:${ctx.chain} - [0:0]`);
  try {
    parseSave([`*${ctx.table}`, ...decl, `-A ${ctx.chain}${spec ? ` ${spec}` : ''}`, 'COMMIT', ''].join('\n'));
    return true;
  } catch (e) {
    if (e instanceof InputError) return false;
    throw e;
  }
}

/** The text of a rule spec (after "-A CHAIN"). Shrinks toward "-j ACCEPT". */
export function ruleSpecText(ctx: RuleGenContext): fc.Arbitrary<string> {
  const matches = EXTENSIONS.filter((d) => d.type === 'match');
  const targets = EXTENSIONS.filter((d) => d.type === 'target' && (!d.tables || d.tables.includes(ctx.table)));
  const arbCidr = KINDS.cidr.arb(fc);
  return fc
    .record({
      src: fc.option(fc.tuple(fc.boolean(), arbCidr), { nil: undefined }),
      dst: fc.option(fc.tuple(fc.boolean(), arbCidr), { nil: undefined }),
      iface: fc.option(fc.tuple(fc.boolean(), fc.constantFrom(...IFACES), fc.boolean()), { nil: undefined }),
      proto: fc.option(fc.constantFrom(...PROTOS), { nil: undefined }),
      ms: fc.array(
        fc.constantFrom(...matches).chain((d) => extensionText(d).map((t) => `-m ${d.name}${t ? ` ${t}` : ''}`)),
        { maxLength: 2 },
      ),
      target: fc.oneof(
        fc.constantFrom('-j ACCEPT', '-j DROP', '-j RETURN', ''),
        ...(ctx.jumpTargets.length ? [fc.constantFrom(...ctx.jumpTargets.flatMap((c) => [`-j ${c}`, `-g ${c}`]))] : []),
        fc.constantFrom(...targets).chain((d) => extensionText(d).map((t) => `-j ${d.name}${t ? ` ${t}` : ''}`)),
      ),
    })
    .map((r) => {
      const parts: string[] = [];
      if (r.src) parts.push(`${r.src[0] ? '! ' : ''}-s ${formatCidr(r.src[1])}`);
      if (r.dst) parts.push(`${r.dst[0] ? '! ' : ''}-d ${formatCidr(r.dst[1])}`);
      if (r.iface) parts.push(`${r.iface[0] ? '! ' : ''}${r.iface[2] ? '-i' : '-o'} ${r.iface[1]}`);
      if (r.proto !== undefined) parts.push(`-p ${protocolName(r.proto) ?? r.proto}`);
      parts.push(...r.ms);
      if (r.target) parts.push(r.target);
      return parts.join(' ');
    })
    .filter((spec) => acceptedAlone(ctx, spec));
}

/** iptables-restore text for one table, with user chains that only jump "forward" (no loops). */
export function tableText(table: TableName): fc.Arbitrary<string> {
  return fc.integer({ min: 0, max: 3 }).chain((nUser) => {
    const users = Array.from({ length: nUser }, (_, i) => `CHAIN-${i}`);
    const chains = [...TABLE_HOOKS[table], ...users];
    const chainRules = chains.map((c, i) =>
      fc
        .array(
          ruleSpecText({ table, chain: c, jumpTargets: users.filter((_, j) => TABLE_HOOKS[table].length + j > i) }),
          { maxLength: 4 },
        )
        .map((specs) => specs.map((s) => `-A ${c}${s ? ` ${s}` : ''}`)),
    );
    return fc
      .tuple(
        fc.tuple(...chainRules),
        fc.array(fc.constantFrom('ACCEPT', 'DROP'), {
          minLength: TABLE_HOOKS[table].length,
          maxLength: TABLE_HOOKS[table].length,
        }),
      )
      .map(([rules, policies]) => {
        const head = [
          `*${table}`,
          ...TABLE_HOOKS[table].map((h, i) => `:${h} ${table === 'nat' ? 'ACCEPT' : policies[i]} [0:0]`),
          ...users.map((u) => `:${u} - [0:0]`),
        ];
        return [...head, ...rules.flat(), 'COMMIT'].join('\n');
      });
  });
}

/** A whole ruleset text: some of the tables. Some generated rules are invalid; callers filter on InputError. */
export function rulesetText(): fc.Arbitrary<string> {
  return fc
    .subarray(['filter', 'nat', 'mangle', 'raw'] as TableName[], { minLength: 1 })
    .chain((tables) => fc.tuple(...tables.map(tableText)).map((t) => t.join('\n') + '\n'));
}
