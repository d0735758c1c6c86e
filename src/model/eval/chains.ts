// Traverses one table's chain for one hook: first match wins, jumps, gotos,
// RETURN and the policy (spec/iptables.md §7). Rulesets are compiled once into
// closures; long chains get an index on exact destination addresses so that a
// kube-proxy KUBE-SERVICES chain is not scanned linearly.
import { type U32, cidrMask } from '../ip.ts';
import type { Ruleset, Rule, TableName, Hook, Chain, ExtInstance } from '../rules/types.ts';
import { printRuleSpec } from '../rules/print.ts';
import { targetDesc, UNMODELLED_TARGETS } from '../rules/descriptors.ts';
import { MATCHERS, type Test, type MatchEnv } from './matchers.ts';
import { targetAction, OBSERVING_TARGETS, type TargetAction, type NatRequest } from './targets.ts';
import type { Pkt } from './packet.ts';
import { pinnedRules } from './buckets.ts';

export type { NatRequest } from './targets.ts';

export interface CompiledRule {
  index: number;
  rule: Rule;
  test: Test;
  table: TableName;
  chain: string;
  /** its target changes nothing and its matches have no side effects: whether it matches cannot matter, so
   *  an unknown match in it is not followed both ways (spec/semantics.md §10) */
  inert: boolean;
  /** "table/chain/number": key of per-rule state (statistic nth counters) */
  id: string;
  /** its limit/hashlimit matches may be decided from a fresh bucket (eval/buckets.ts) */
  pinned?: boolean;
  /** an extension target's action, decoded once (eval/targets.ts) */
  action?: TargetAction;
  /** the chain a jump or goto goes to, resolved once */
  jumpTo?: CompiledChain;
}

export interface CompiledChain {
  name: string;
  policy: 'ACCEPT' | 'DROP' | undefined;
  rules: CompiledRule[];
  /** exact /32 destination -> the rules a packet to it can match, in order; absent for short chains */
  byDst?: Map<U32, CompiledRule[]>;
  /** the rules a packet to any other destination can match, in order */
  other: CompiledRule[];
}

export interface CompiledTable {
  name: TableName;
  chains: Map<string, CompiledChain>;
}

export type CompiledRuleset = Map<TableName, CompiledTable>;

const INDEX_MIN_RULES = 16;
/** above this many non-indexable rules, merged buckets would cost too much memory */
const INDEX_MAX_OTHER = 64;

function ifaceTest(name: string): (dev: string) => boolean {
  if (name.endsWith('+')) {
    const prefix = name.slice(0, -1);
    return (dev) => dev.startsWith(prefix);
  }
  return (dev) => dev === name;
}

export function compileRule(r: Rule): Test {
  const tests: Test[] = [];
  if (r.src) {
    const { neg, value: c } = r.src;
    const m = cidrMask(c);
    tests.push((p) => ((p.src & m) >>> 0 === c.addr) !== neg);
  }
  if (r.dst) {
    const { neg, value: c } = r.dst;
    const m = cidrMask(c);
    tests.push((p) => ((p.dst & m) >>> 0 === c.addr) !== neg);
  }
  if (r.proto) {
    const { neg, value } = r.proto;
    tests.push((p) => (p.proto === value) !== neg);
  }
  if (r.inIface) {
    const { neg, value } = r.inIface;
    const t = ifaceTest(value);
    tests.push((_p, e) => t(e.inIf) !== neg);
  }
  if (r.outIface) {
    const { neg, value } = r.outIface;
    const t = ifaceTest(value);
    tests.push((_p, e) => t(e.outIf) !== neg);
  }
  // -f: a second or later fragment; the model's packets are never fragments (and conntrack reassembles
  // before PREROUTING), so only "! -f" holds (spec/modules.md)
  if (r.frag) {
    const { neg } = r.frag;
    tests.push(() => neg);
  }
  for (const m of r.matches) {
    if (m.opaque) {
      tests.push(opaqueTest(m));
      continue;
    }
    const build = MATCHERS[m.name];
    if (!build) throw new Error(`internal: no evaluator for match ${m.name}`);
    tests.push(build(m));
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  return (p, e) => {
    for (const t of tests) if (!t(p, e)) return false;
    return true;
  };
}

/** An instance the model cannot evaluate: the options it knows are tested exactly, the rest is unknown. A
 *  negated unknown is unknown too: both answers are followed either way (spec/semantics.md §10). */
function opaqueTest(m: ExtInstance): Test {
  const why = m.opaque!.why;
  const build = m.opts.length ? MATCHERS[m.name] : undefined;
  const known = build ? build({ name: m.name, opts: m.opts }) : undefined;
  if (!known) return (_p, e) => e.unknown(why);
  return (p, e) => known(p, e) && e.unknown(why);
}

/** Matches whose evaluation changes state (recent lists, nth counters): a rule with one is never inert. */
const STATEFUL_MATCHES = new Set(['recent', 'statistic']);

/** Whether a rule's match result cannot change anything: no target, or a target that only observes (LOG,
 *  NFLOG, TRACE: XT_CONTINUE, no write), or an unmodelled target that writes nothing the model reads. */
function isInert(r: Rule): boolean {
  if (r.matches.some((m) => STATEFUL_MATCHES.has(m.name))) return false;
  const t = r.target;
  if (!t) return true;
  if (t.kind !== 'ext') return false;
  if (t.ext.opaque) return !targetDesc(t.ext.name) && UNMODELLED_TARGETS[t.ext.name]?.effect === 'continue';
  return OBSERVING_TARGETS.has(t.ext.name);
}

const exactDst = (r: Rule) =>
  r.dst !== undefined && !r.dst.neg && r.dst.value.len === 32 && r.dst.value.mask === undefined;

function compileChain(table: TableName, c: Chain): CompiledChain {
  const rules = c.rules.map((rule, i): CompiledRule => {
    const cr: CompiledRule = {
      index: i,
      rule,
      test: compileRule(rule),
      id: `${table}/${c.name}/${i + 1}`,
      table,
      chain: c.name,
      inert: isInert(rule),
    };
    if (rule.target?.kind === 'ext') cr.action = targetAction(rule.target.ext);
    return cr;
  });
  const other = rules.filter((r) => !exactDst(r.rule));
  const out: CompiledChain = { name: c.name, policy: c.policy, rules, other: rules };
  // Index on exact destinations: each bucket holds its own rules merged with the rest, in
  // rule order, so that first-match semantics are unchanged.
  if (rules.length >= INDEX_MIN_RULES && other.length <= INDEX_MAX_OTHER) {
    const byDst = new Map<U32, CompiledRule[]>();
    for (const r of rules) {
      if (!exactDst(r.rule)) continue;
      const addr = r.rule.dst!.value.addr;
      if (!byDst.has(addr))
        byDst.set(
          addr,
          rules.filter((x) => !exactDst(x.rule) || x.rule.dst!.value.addr === addr),
        );
    }
    out.byDst = byDst;
    out.other = other;
  }
  return out;
}

export function compileRuleset(rs: Ruleset): CompiledRuleset {
  const out: CompiledRuleset = new Map();
  const pinned = pinnedRules(rs);
  for (const [name, t] of rs.tables) {
    const chains = new Map<string, CompiledChain>();
    for (const [cn, c] of t.chains) chains.set(cn, compileChain(name, c));
    for (const c of chains.values()) {
      for (const r of c.rules) if (pinned.has(r.id)) r.pinned = true;
      for (const r of c.rules)
        if (r.rule.target?.kind === 'jump' || r.rule.target?.kind === 'goto')
          r.jumpTo = chains.get(r.rule.target.chain)!;
    }
    out.set(name, { name, chains });
  }
  return out;
}

/** What a table decided for a packet. NAT targets carry their request to the nat hook. */
export type TableVerdict =
  | { kind: 'accept' }
  | { kind: 'drop'; chain: string; rule: number | 'policy'; silent?: true }
  | { kind: 'reject'; with: string; chain: string; rule: number }
  | { kind: 'nat'; nat: NatRequest; chain: string; rule: number }
  /** an unmodelled target took the packet: its fate is unknown (spec/semantics.md §10) */
  | { kind: 'unknown'; why: string; chain: string; rule: number; spec: string };

export interface RuleHit {
  table: TableName;
  chain: string;
  /** 1-based rule number, or "policy" */
  rule: number | 'policy';
  matched: boolean;
  action: string;
  spec: string;
}

export interface TraverseHooks {
  /** every rule that matched (and, when verbose, every rule that did not), for the trace */
  onRule?: (hit: RuleHit) => void;
}

const ACCEPT: TableVerdict = { kind: 'accept' };

function candidates(c: CompiledChain, dst: U32): CompiledRule[] {
  return c.byDst ? (c.byDst.get(dst) ?? c.other) : c.rules;
}

/**
 * Runs `table`'s built-in chain `hook` on the packet. `p` may be changed by
 * non-terminal targets (MARK). Unmatched rules are reported only when `verbose`.
 */
export function traverse(
  table: CompiledTable,
  hook: Hook,
  p: Pkt,
  env: MatchEnv,
  hooks: TraverseHooks,
  verbose = false,
): TableVerdict {
  const stack: { chain: CompiledChain; list: CompiledRule[]; next: number }[] = [];
  const base = table.chains.get(hook);
  if (!base) return ACCEPT;
  let chain = base;
  let list = candidates(chain, p.dst);
  let k = 0;
  const onRule = hooks.onRule;
  for (;;) {
    if (k >= list.length) {
      // fell off the end of the chain
      const frame = stack.pop();
      if (!frame) return policyOf(table, base, env, hooks);
      ({ chain, list } = frame);
      k = frame.next;
      continue;
    }
    const cr = list[k++]!;
    env.ruleId = cr.id;
    env.rule = cr;
    if (!cr.test(p, env)) {
      if (verbose && onRule)
        onRule({
          table: table.name,
          chain: chain.name,
          rule: cr.index + 1,
          matched: false,
          action: '',
          spec: printRuleSpec(cr.rule),
        });
      continue;
    }
    const t: Rule['target'] = cr.rule.target;
    if (!t) {
      onRule?.(hit(table, chain, cr, '(no target)'));
      continue;
    }
    if (t.kind === 'verdict') {
      onRule?.(hit(table, chain, cr, t.verdict));
      if (t.verdict === 'ACCEPT') return ACCEPT;
      if (t.verdict === 'DROP') return { kind: 'drop', chain: chain.name, rule: cr.index + 1 };
      const frame = stack.pop(); // RETURN
      if (!frame) return policyOf(table, base, env, hooks);
      ({ chain, list } = frame);
      k = frame.next;
      continue;
    }
    if (t.kind === 'jump' || t.kind === 'goto') {
      onRule?.(hit(table, chain, cr, `${t.kind === 'jump' ? '-j' : '-g'} ${t.chain}`));
      if (t.kind === 'jump') stack.push({ chain, list, next: k });
      chain = cr.jumpTo!;
      list = candidates(chain, p.dst);
      k = 0;
      continue;
    }
    const action = cr.action!;
    if (action.kind === 'continue') {
      const what = action.act(p, env);
      onRule?.(hit(table, chain, cr, what));
      continue;
    }
    if (action.kind === 'decide') {
      onRule?.(hit(table, chain, cr, action.what));
      if (action.verdict === 'accept') return ACCEPT;
      return action.silent
        ? { kind: 'drop', chain: chain.name, rule: cr.index + 1, silent: true }
        : { kind: 'drop', chain: chain.name, rule: cr.index + 1 };
    }
    onRule?.(hit(table, chain, cr, printRuleSpec({ matches: [], target: t })));
    if (action.kind === 'unknown')
      return { kind: 'unknown', why: action.why, chain: chain.name, rule: cr.index + 1, spec: printRuleSpec(cr.rule) };
    if (action.kind === 'reject') return { kind: 'reject', with: action.with, chain: chain.name, rule: cr.index + 1 };
    return { kind: 'nat', nat: action.nat, chain: chain.name, rule: cr.index + 1 };
  }
}

function hit(table: CompiledTable, chain: CompiledChain, cr: CompiledRule, action: string): RuleHit {
  return {
    table: table.name,
    chain: chain.name,
    rule: cr.index + 1,
    matched: true,
    action,
    spec: printRuleSpec(cr.rule),
  };
}

/**
 * An empty return stack means the built-in chain's policy, also when a goto left it: ipt_do_table takes
 * `private->underflow[hook]`, nft_do_chain the base chain's policy.
 */
function policyOf(table: CompiledTable, chain: CompiledChain, _env: MatchEnv, hooks: TraverseHooks): TableVerdict {
  const policy = chain.policy ?? 'ACCEPT';
  hooks.onRule?.({ table: table.name, chain: chain.name, rule: 'policy', matched: true, action: policy, spec: '' });
  return policy === 'DROP' ? { kind: 'drop', chain: chain.name, rule: 'policy' } : ACCEPT;
}
