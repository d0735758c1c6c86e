// The kernel's checks at commit (net/netfilter/nf_tables_api.c nft_chain_validate / nft_table_validate):
// from every base chain, the chains reachable through jump, goto and verdict maps are walked; a loop is
// refused (ELOOP), and each statement must accept the base chain's type and hook (*_validate in
// nft_nat.c, nft_masq.c, nft_reject.c, nft_fib.c). spec/nft.md §4.
import { InputError, type SourcePos } from '../errors.ts';
import { STMT_HOOKS, selector } from './descriptors.ts';
import type { NftTable, NftChain, BaseSpec, Verdict, Stmt } from './types.ts';

/** nf_tables' jump stack: deeper chains are refused (NFT_JUMP_STACK_SIZE). */
export const NFT_JUMP_STACK = 16;

export function chainTargets(t: NftTable, c: NftChain): { chain: string; rule: number }[] {
  const out: { chain: string; rule: number }[] = [];
  const add = (v: Verdict | undefined, rule: number) => {
    if (v && (v.kind === 'jump' || v.kind === 'goto')) out.push({ chain: v.chain, rule });
  };
  c.rules.forEach((r, i) => {
    for (const s of r.stmts) {
      if (s.k === 'verdict') add(s.v, i);
      if (s.k === 'vmap') {
        const els = s.map.kind === 'set' ? s.map.elements : (t.sets.get(s.map.name)?.elements ?? []);
        for (const e of els) add(e.verdict, i);
      }
    }
  });
  return out;
}

function stmtProblem(s: Stmt, base: BaseSpec): string | undefined {
  const hookOk = (k: keyof typeof STMT_HOOKS) => STMT_HOOKS[k].includes(base.hook);
  if (s.k === 'nat') {
    if (base.type !== 'nat') return `${s.type} is only valid in a nat chain (reached from a ${base.type} chain)`;
    if (!hookOk(s.type)) return `${s.type} is not valid from hook ${base.hook}`;
  }
  if (s.k === 'masquerade') {
    if (base.type !== 'nat') return `masquerade is only valid in a nat chain (reached from a ${base.type} chain)`;
    if (!hookOk('masquerade')) return `masquerade is not valid from hook ${base.hook}`;
  }
  if (s.k === 'reject' && !hookOk('reject')) return `reject is not valid from hook ${base.hook}`;
  if (s.k === 'match' || s.k === 'vmap') {
    const e = s.k === 'match' ? s.left : s.key;
    const names = e.kind === 'concat' ? e.parts : e.kind === 'numgen' ? [] : [e.name];
    for (const n of names) {
      const h = selector(n).hooks;
      if (h && !h.includes(base.hook)) return `${n} is not valid from hook ${base.hook}`;
    }
  }
  return undefined;
}

export function validateNftTable(t: NftTable, file: string): void {
  const at = (c: NftChain, rule?: number): SourcePos =>
    (rule !== undefined ? c.rules[rule]?.pos : undefined) ?? c.pos ?? { file, line: 1, col: 1 };
  // loops count only where a base chain reaches them (nft_table_validate walks from base chains; measured:
  // a regular chain that jumps to itself and is reached from nowhere loads)
  for (const root of t.chains.values()) {
    if (!root.base) continue;
    const base = root.base;
    const stack: string[] = [];
    const visit = (c: NftChain, depth: number) => {
      if (stack.includes(c.name))
        throw new InputError('invalid', `jumps ${[...stack, c.name].join(' -> ')} form a loop`, at(c));
      if (depth > NFT_JUMP_STACK) throw new InputError('invalid', `chains nested deeper than ${NFT_JUMP_STACK}`, at(c));
      stack.push(c.name);
      c.rules.forEach((r, i) => {
        for (const s of r.stmts) {
          const why = stmtProblem(s, base);
          if (why)
            throw new InputError(
              'invalid',
              `${why}${c !== root ? ` (chain ${c.name} is reached from ${root.name})` : ''}`,
              at(c, i),
            );
        }
      });
      for (const { chain } of chainTargets(t, c)) {
        const next = t.chains.get(chain);
        if (next) visit(next, depth + 1);
      }
      stack.pop();
    };
    visit(root, 0);
  }
}
