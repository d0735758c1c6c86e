// The registry of known divergences (spec/divergences.md, spec/divergences.json):
// a divergence found in it is reported, not failed. The registry should shrink.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FieldDiff } from './compare.ts';

export interface KnownDivergence {
  id: string;
  /** the field that differs (exact, or a prefix ending in ".") */
  field: string;
  /** regular expressions over JSON.stringify of each side */
  model?: string;
  kernel?: string;
  reason: string;
  case?: string;
}

const REGISTRY = fileURLToPath(new URL('../../spec/divergences.json', import.meta.url));

export function loadRegistry(path = REGISTRY): KnownDivergence[] {
  if (!existsSync(path)) return [];
  return (JSON.parse(readFileSync(path, 'utf8')) as { known: KnownDivergence[] }).known;
}

export function knownFor(d: FieldDiff, registry: readonly KnownDivergence[]): KnownDivergence | undefined {
  return registry.find(
    (k) =>
      (k.field.endsWith('.') ? d.field.startsWith(k.field) : d.field === k.field) &&
      (!k.model || new RegExp(k.model).test(JSON.stringify(d.model))) &&
      (!k.kernel || new RegExp(k.kernel).test(JSON.stringify(d.kernel))),
  );
}
