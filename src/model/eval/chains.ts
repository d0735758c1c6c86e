// Traverses one table's chain for one hook: first match wins, jumps, gotos,
// RETURN and the policy (spec/iptables.md §7). Rulesets are compiled once into
// closures; long chains get an index on exact destination addresses so that a
// kube-proxy KUBE-SERVICES chain is not scanned linearly.
import { type U32, maskOf } from '../ip.ts';
import type { Ruleset, Rule, TableName, Hook, ExtInstance, Chain } from '../rules/types.ts';
import type { NatRange } from '../rules/kinds.ts';
import { opt } from '../rules/descriptors.ts';
import { printRuleSpec } from '../rules/print.ts';
import { MATCHERS, type Test, type MatchEnv } from './matchers.ts';
import type { Pkt } from './packet.ts';

export interface CompiledRule {
  index: number;
  rule: Rule;
  test: Test;
}

export interface CompiledChain {
  name: string;
  policy: 'ACCEPT' | 'DROP' | undefined;
  rules: CompiledRule[];
  /** exact /32 destination -> rule indexes (ascending); absent for short chains */
  byDst?: Map<U32, number[]>;
  /** rules not in byDst (ascending) */
  other?: number[];
}

export interface CompiledTable {
  name: TableName;
  chains: Map<string, CompiledChain>;
}

export type CompiledRuleset = Map<TableName, CompiledTable>;

const INDEX_MIN_RULES = 16;

function ifaceTest(name: string): (dev: string) => boolean {
  if (name.endsWith('+')) {
    const prefix = name.slice(0, -1);
    return (dev) => dev.startsWith(prefix);
  }
  return (dev) => dev === name;
}

export function compileRule(r: Rule): Test {
  const tests: Test[] = [];
  if (r.src) { const { neg, value: c } = r.src; const m = maskOf(c.len); tests.push((p) => (((p.src & m) >>> 0) === c.addr) !== neg); }
  if (r.dst) { const { neg, value: c } = r.dst; const m = maskOf(c.len); tests.push((p) => (((p.dst & m) >>> 0) === c.addr) !== neg); }
  if (r.proto) { const { neg, value } = r.proto; tests.push((p) => (p.proto === value) !== neg); }
  if (r.inIface) { const { neg, value } = r.inIface; const t = ifaceTest(value); tests.push((_p, e) => t(e.inIf) !== neg); }
  if (r.outIface) { const { neg, value } = r.outIface; const t = ifaceTest(value); tests.push((_p, e) => t(e.outIf) !== neg); }
  for (const m of r.matches) {
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

function compileChain(c: Chain): CompiledChain {
  const rules = c.rules.map((rule, i) => ({ index: i, rule, test: compileRule(rule) }));
  const out: CompiledChain = { name: c.name, policy: c.policy, rules };
  if (rules.length >= INDEX_MIN_RULES) {
    const byDst = new Map<U32, number[]>();
    const other: number[] = [];
    for (const r of rules) {
      const d = r.rule.dst;
      if (d && !d.neg && d.value.len === 32) {
        let list = byDst.get(d.value.addr);
        if (!list) byDst.set(d.value.addr, (list = []));
        list.push(r.index);
      } else other.push(r.index);
    }
    out.byDst = byDst;
    out.other = other;
  }
  return out;
}

export function compileRuleset(rs: Ruleset): CompiledRuleset {
  const out: CompiledRuleset = new Map();
  for (const [name, t] of rs.tables) {
    const chains = new Map<string, CompiledChain>();
    for (const [cn, c] of t.chains) chains.set(cn, compileChain(c));
    out.set(name, { name, chains });
  }
  return out;
}

/** What a table decided for a packet. NAT targets carry their request to the nat hook. */
export type TableVerdict =
  | { kind: 'accept' }
  | { kind: 'drop'; chain: string; rule: number | 'policy' }
  | { kind: 'reject'; with: string; chain: string; rule: number }
  | { kind: 'nat'; nat: NatRequest; chain: string; rule: number };

export interface NatRequest {
  target: 'DNAT' | 'SNAT' | 'MASQUERADE' | 'REDIRECT';
  range: NatRange;
  random: boolean;
  randomFully: boolean;
  persistent: boolean;
}

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
  /** per-rule side effects that are not verdicts (MARK, CONNMARK, NOTRACK, LOG) */
  applyNonTerminal: (ext: ExtInstance, p: Pkt, env: MatchEnv) => string;
  onRule?: (hit: RuleHit) => void;
}

function natRequest(ext: ExtInstance): NatRequest {
  const target = ext.name as NatRequest['target'];
  const rangeOpt = opt(ext, '--to-destination') ?? opt(ext, '--to-source') ?? opt(ext, '--to-ports');
  return {
    target,
    range: (rangeOpt?.value as NatRange | undefined) ?? {},
    random: opt(ext, '--random') !== undefined,
    randomFully: opt(ext, '--random-fully') !== undefined,
    persistent: opt(ext, '--persistent') !== undefined,
  };
}

const TERMINAL_EXT = new Set(['REJECT', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT']);

function* candidates(c: CompiledChain, dst: U32, from: number): Generator<CompiledRule> {
  if (!c.byDst) {
    for (let i = from; i < c.rules.length; i++) yield c.rules[i]!;
    return;
  }
  const a = c.byDst.get(dst) ?? [];
  const b = c.other!;
  let i = 0;
  let j = 0;
  while (i < a.length && a[i]! < from) i++;
  while (j < b.length && b[j]! < from) j++;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i]! < b[j]!) ? a[i++]! : b[j++]!;
    yield c.rules[next]!;
  }
}

/**
 * Runs `table`'s built-in chain `hook` on the packet. `p` may be changed by
 * non-terminal targets (MARK). Unmatched rules are reported only when `verbose`.
 */
export function traverse(table: CompiledTable, hook: Hook, p: Pkt, env: MatchEnv, hooks: TraverseHooks, verbose = false): TableVerdict {
  const stack: { chain: CompiledChain; next: number }[] = [];
  let chain = table.chains.get(hook);
  if (!chain) return { kind: 'accept' };
  let from = 0;
  for (;;) {
    let jumped = false;
    for (const cr of candidates(chain, p.dst, from) as Iterable<CompiledRule>) {
      const ruleNo = cr.index + 1;
      env.ruleId = `${table.name}/${chain.name}/${ruleNo}`;
      const matched = cr.test(p, env);
      if (!matched) {
        if (verbose) hooks.onRule?.({ table: table.name, chain: chain.name, rule: ruleNo, matched, action: '', spec: printRuleSpec(cr.rule) });
        continue;
      }
      env.state.counters.set(env.ruleId, (env.state.counters.get(env.ruleId) ?? 0) + 1);
      const t: Rule["target"] = cr.rule.target;
      const report = (action: string) => hooks.onRule?.({ table: table.name, chain: chain!.name, rule: ruleNo, matched, action, spec: printRuleSpec(cr.rule) });
      if (!t) { report('(no target)'); continue; }
      if (t.kind === 'verdict') {
        report(t.verdict);
        if (t.verdict === 'ACCEPT') return { kind: 'accept' };
        if (t.verdict === 'DROP') return { kind: 'drop', chain: chain.name, rule: ruleNo };
        // RETURN
        const frame = stack.pop();
        if (!frame) return policyOf(table, chain, env, hooks);
        chain = frame.chain;
        from = frame.next;
        jumped = true;
        break;
      }
      if (t.kind === 'jump' || t.kind === 'goto') {
        report(`${t.kind === 'jump' ? '-j' : '-g'} ${t.chain}`);
        if (t.kind === 'jump') stack.push({ chain, next: cr.index + 1 });
        chain = table.chains.get(t.chain)!;
        from = 0;
        jumped = true;
        break;
      }
      const ext = t.ext;
      if (TERMINAL_EXT.has(ext.name)) {
        report(printRuleSpec({ matches: [], target: t }));
        if (ext.name === 'REJECT') return { kind: 'reject', with: opt(ext, '--reject-with')!.value as string, chain: chain.name, rule: ruleNo };
        return { kind: 'nat', nat: natRequest(ext), chain: chain.name, rule: ruleNo };
      }
      report(hooks.applyNonTerminal(ext, p, env));
    }
    if (jumped) continue;
    // fell off the end of the chain
    const frame = stack.pop();
    if (!frame) return policyOf(table, chain, env, hooks);
    chain = frame.chain;
    from = frame.next;
  }
}

function policyOf(table: CompiledTable, chain: CompiledChain, env: MatchEnv, hooks: TraverseHooks): TableVerdict {
  const policy = chain.policy ?? 'ACCEPT';
  const key = `${table.name}/${chain.name}/policy`;
  env.state.counters.set(key, (env.state.counters.get(key) ?? 0) + 1);
  hooks.onRule?.({ table: table.name, chain: chain.name, rule: 'policy', matched: true, action: policy, spec: '' });
  return policy === 'DROP' ? { kind: 'drop', chain: chain.name, rule: 'policy' } : { kind: 'accept' };
}
