// The registry of known divergences (spec/divergences.md, spec/divergences.json): a divergence found in
// it is reported, not failed. The registry should shrink. Entries match a difference by its field and by
// the values of each side (a structural pattern, never a regular expression over printed text).
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadJson, type JsonChecker } from '../model/index.ts';
import type { FieldDiff } from './compare.ts';

/** A JSON value that a side's value must contain: equal primitives; every key of an object pattern
 *  matched in the value; every element of a list pattern matched by some element of the value. */
export type ValuePattern = null | boolean | number | string | ValuePattern[] | { [key: string]: ValuePattern };

export interface KnownDivergence {
  id: string;
  /** the field that differs (exact, or a prefix ending in ".") */
  field: string;
  model?: ValuePattern;
  kernel?: ValuePattern;
  reason: string;
  case?: string;
}

const REGISTRY = fileURLToPath(new URL('../../spec/divergences.json', import.meta.url));

export function loadRegistry(path = REGISTRY): KnownDivergence[] {
  if (!existsSync(path)) return [];
  return loadJson(readFileSync(path, 'utf8'), path, checkRegistry, 'the registry of known divergences');
}

function checkRegistry(raw: unknown, j: JsonChecker): KnownDivergence[] {
  const top = j.obj(raw, [], ['comment', 'known']);
  return j.arr(top['known'], ['known']).map((e, i): KnownDivergence => {
    const p = ['known', i];
    const o = j.obj(e, p, ['id', 'field', 'model', 'kernel', 'reason', 'case']);
    const entry: KnownDivergence = {
      id: j.str(o['id'], [...p, 'id']),
      field: j.str(o['field'], [...p, 'field']),
      reason: j.str(o['reason'], [...p, 'reason']),
    };
    if (o['model'] !== undefined) entry.model = o['model'] as ValuePattern;
    if (o['kernel'] !== undefined) entry.kernel = o['kernel'] as ValuePattern;
    if (o['case'] !== undefined) entry.case = j.str(o['case'], [...p, 'case']);
    return entry;
  });
}

/** Whether `value` contains `pattern` (see ValuePattern). */
export function matchesPattern(pattern: ValuePattern, value: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object') return Object.is(pattern, value);
  if (Array.isArray(pattern))
    return Array.isArray(value) && pattern.every((p) => value.some((v: unknown) => matchesPattern(p, v)));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const obj = value as Record<string, unknown>;
  return Object.entries(pattern).every(([k, p]) => k in obj && matchesPattern(p, obj[k]));
}

export function knownFor(d: FieldDiff, registry: readonly KnownDivergence[]): KnownDivergence | undefined {
  return registry.find(
    (k) =>
      (k.field.endsWith('.') ? d.field.startsWith(k.field) : d.field === k.field) &&
      (k.model === undefined || matchesPattern(k.model, d.model)) &&
      (k.kernel === undefined || matchesPattern(k.kernel, d.kernel)),
  );
}
