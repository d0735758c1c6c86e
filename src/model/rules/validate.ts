// Load-time validation of a table, equal to what the kernel checks when a table
// is committed (spec/iptables.md §5): loops, and for each rule the hooks it can
// be reached from against what its target and matches allow.
import { InputError } from '../errors.ts';
import { type Table, type Hook, type IptablesFlavor, type Rule, TABLE_HOOKS } from './types.ts';
import { matchDesc, targetDesc } from './descriptors.ts';

function jumpTarget(r: Rule): string | undefined {
  return r.target?.kind === 'jump' || r.target?.kind === 'goto' ? r.target.chain : undefined;
}

/** For each chain, the built-in hooks from which it can be reached. */
export function reachingHooks(t: Table): Map<string, Set<Hook>> {
  const reach = new Map<string, Set<Hook>>();
  for (const name of t.chains.keys()) reach.set(name, new Set());
  for (const h of TABLE_HOOKS[t.name]) {
    const stack = [h as string];
    while (stack.length) {
      const name = stack.pop()!;
      const set = reach.get(name);
      if (!set || set.has(h)) continue;
      set.add(h);
      for (const r of t.chains.get(name)!.rules) {
        const j = jumpTarget(r);
        if (j) stack.push(j);
      }
    }
  }
  return reach;
}

function findLoop(t: Table): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const s = state.get(name);
    if (s === 'done') return undefined;
    if (s === 'open') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'open');
    path.push(name);
    for (const r of t.chains.get(name)?.rules ?? []) {
      const j = jumpTarget(r);
      const loop = j ? visit(j) : undefined;
      if (loop) return loop;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of t.chains.keys()) {
    const loop = visit(name);
    if (loop) return loop;
  }
  return undefined;
}

/**
 * nf_tables refuses a chain reached through NFT_JUMP_STACK_SIZE (16) jumps or gotos from a base chain
 * (nft_chain_validate: `if (ctx->level == NFT_JUMP_STACK_SIZE) return -EMLINK`; chains no base chain
 * reaches are not checked). Measured with iptables-nft-restore 1.8.9: 15 links load, 16 are refused
 * with "RULE_APPEND failed (Too many links)". x_tables has no such limit (its jump stack is sized by
 * the number of user chains, translate_table): iptables-legacy loads 20,000 levels. Returns the rule
 * that makes the 16th link, if any. Loops are refused before this runs.
 */
export const NFT_JUMP_STACK_SIZE = 16;
function tooDeep(t: Table): { chain: string; rule: Rule } | undefined {
  const height = new Map<string, number>();
  const heightOf = (name: string): number => {
    const known = height.get(name);
    if (known !== undefined) return known;
    let h = 0;
    for (const r of t.chains.get(name)?.rules ?? []) {
      const j = jumpTarget(r);
      if (j) h = Math.max(h, 1 + heightOf(j));
    }
    height.set(name, h);
    return h;
  };
  for (const base of TABLE_HOOKS[t.name]) {
    if (!t.chains.has(base) || heightOf(base) < NFT_JUMP_STACK_SIZE) continue;
    // follow a deepest path down to the chain at level 15 and its rule that links to level 16
    let name: string = base;
    for (let level = 0; ; level++) {
      const rule = t.chains.get(name)!.rules.find((r) => {
        const j = jumpTarget(r);
        return j !== undefined && 1 + heightOf(j) >= NFT_JUMP_STACK_SIZE - level;
      })!;
      if (level === NFT_JUMP_STACK_SIZE - 1) return { chain: name, rule };
      name = jumpTarget(rule)!;
    }
  }
  return undefined;
}

export function validateTable(t: Table, backend: IptablesFlavor, file: string, problems?: InputError[]): void {
  // with `problems`, every problem is collected (lint lists them all); else the first is thrown
  const fail = (e: InputError): void => {
    if (problems) problems.push(e);
    else throw e;
  };
  const at = (r: Rule | undefined) => r?.pos ?? { file, line: 1, col: 1 };
  let missing = false;
  for (const c of t.chains.values()) {
    for (const r of c.rules) {
      const j = jumpTarget(r);
      if (j && !t.chains.has(j))
        ((missing = true),
          fail(
            new InputError(
              'invalid',
              `chain ${c.name} jumps to "${j}", which does not exist in table ${t.name}`,
              at(r),
            ),
          ));
    }
  }
  if (missing) return;
  const loop = findLoop(t);
  if (loop) {
    const rule = t.chains.get(loop[0]!)!.rules.find((r) => jumpTarget(r) === loop[1]);
    return fail(
      new InputError(
        'invalid',
        `Too many levels of symbolic links: the jumps ${loop.join(' -> ')} form a loop`,
        at(rule),
      ),
    );
  }
  const deep = backend === 'nft' ? tooDeep(t) : undefined;
  if (deep)
    return fail(
      new InputError(
        'invalid',
        `RULE_APPEND failed (Too many links): rule in chain ${deep.chain}: a chain` +
          ` ${NFT_JUMP_STACK_SIZE} jumps or gotos below a built-in chain is refused by iptables-nft` +
          ` (NFT_JUMP_STACK_SIZE)`,
        at(deep.rule),
      ),
    );
  const reach = reachingHooks(t);
  for (const c of t.chains.values()) {
    const hooks = reach.get(c.name)!;
    for (const r of c.rules) {
      // a target the model does not know is checked by iptables alone
      const td = r.target?.kind === 'ext' ? targetDesc(r.target.ext.name) : undefined;
      if (r.target?.kind === 'ext' && td) {
        const d = td;
        const tables = d.tablesByBackend?.[backend] ?? d.tables;
        if (tables && !tables.includes(t.name))
          fail(
            new InputError(
              'invalid',
              `target ${d.name} is only valid in the ${tables.join('/')} table with iptables-${backend}, not ${t.name}`,
              at(r),
            ),
          );
        for (const h of hooks) {
          if (d.hooks && !d.hooks.includes(h)) {
            fail(
              new InputError(
                'invalid',
                `target ${d.name} is not allowed in` +
                  ` ${t.name} ${h}${c.name !== h ? ` (chain ${c.name} is reached from ${h})` : ''}; it is` +
                  ` valid only from ${d.hooks.join(', ')}`,
                at(r),
              ),
            );
            break;
          }
          // checkentry's own hook checks: iptables-nft makes them only in the built-in chain (as for matches)
          const why = backend === 'nft' && c.name !== h ? undefined : d.hookCheck?.(r.target.ext, h);
          if (why) {
            fail(new InputError('invalid', why, at(r)));
            break;
          }
        }
      }
      for (const m of r.matches) {
        const d = matchDesc(m.name);
        if (!d) continue;
        for (const h of hooks) {
          if (d.hooks && !d.hooks.includes(h)) {
            fail(
              new InputError(
                'invalid',
                `match ${d.name} is not allowed in` +
                  ` ${t.name} ${h}${c.name !== h ? ` (chain ${c.name} is reached from ${h})` : ''}; it is` +
                  ` valid only from ${d.hooks.join(', ')}`,
                at(r),
              ),
            );
            break;
          }
          // iptables-nft checks a match's hook restrictions only in the base chain itself (measured:
          // addrtype --limit-iface-in in a user chain reached from OUTPUT is accepted by nft, refused by legacy)
          if (backend === 'nft' && c.name !== h) continue;
          const why = d.hookCheck?.(m, h);
          if (why) {
            fail(
              new InputError(
                'invalid',
                `${why}${c.name !== h ? ` (chain ${c.name} is reached from ${h})` : ''}`,
                at(r),
              ),
            );
            break;
          }
        }
      }
    }
  }
}
