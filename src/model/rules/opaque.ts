// The rules of a ruleset the model keeps without evaluating them (spec/semantics.md §10): `lint` lists each
// as an unsupported feature (an error with --strict), `validate` and the reports name them.
import { InputError } from '../errors.ts';
import type { Ruleset, Rule, TableName, ExtInstance } from './types.ts';

export interface OpaqueRule {
  table: TableName;
  chain: string;
  /** 1-based */
  rule: number;
  r: Rule;
  ext: ExtInstance;
}

/** Every opaque match or target, in table, chain and rule order. */
export function opaqueRules(rs: Ruleset): OpaqueRule[] {
  const out: OpaqueRule[] = [];
  for (const t of rs.tables.values())
    for (const c of t.chains.values())
      c.rules.forEach((r, i) => {
        const exts = [...r.matches, ...(r.target?.kind === 'ext' ? [r.target.ext] : [])];
        for (const ext of exts) if (ext.opaque) out.push({ table: t.name, chain: c.name, rule: i + 1, r, ext });
      });
  return out;
}

/** Each opaque instance as an `unsupported` problem at the place it was written. */
export function unsupportedProblems(rs: Ruleset): InputError[] {
  return opaqueRules(rs).map(
    (o) =>
      new InputError(
        'unsupported',
        `${o.ext.opaque!.why} (kept; evaluated as unknown: spec/semantics.md §10)`,
        o.ext.opaque!.pos ?? o.r.pos,
      ),
  );
}
