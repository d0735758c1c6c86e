// An iptables-save dump as `validate` reads it (spec/kube.md §6): rules the model cannot evaluate are kept and
// listed; what it refuses as unsupported is left out line by line and listed.
import { isInputError, parseRuleset, opaqueRules, type Ruleset } from '../model/index.ts';

export interface UnsupportedLine {
  line: number;
  text: string;
  reason: string;
}

/** an `-A CHAIN ...` line, with or without the packet/byte counters of `iptables-save -c` */
export const RULE_LINE = /^(?:\[\d+:\d+\]\s+)?-A (\S+)/;

/** The dump as the model reads it: rules it cannot evaluate are kept and listed (evaluated as unknown: spec/
 *  semantics.md §10); what it still refuses as unsupported is blanked (and listed); anything else malformed is
 *  an error. */
export function parseLeniently(text: string, file: string): { ruleset: Ruleset; unsupported: UnsupportedLine[] } {
  const lines = text.split('\n');
  const unsupported: UnsupportedLine[] = [];
  for (;;) {
    try {
      const ruleset = parseRuleset(lines.join('\n'), { file });
      for (const o of opaqueRules(ruleset)) {
        const line = o.ext.opaque!.pos?.line ?? o.r.pos?.line ?? 0;
        unsupported.push({ line, text: lines[line - 1] ?? '', reason: `${o.ext.opaque!.why} (evaluated as unknown)` });
      }
      unsupported.sort((a, b) => a.line - b.line);
      return { ruleset, unsupported };
    } catch (e) {
      if (!isInputError(e) || e.kind !== 'unsupported' || !e.pos || !RULE_LINE.test(lines[e.pos.line - 1] ?? ''))
        throw e;
      unsupported.push({ line: e.pos.line, text: lines[e.pos.line - 1]!, reason: `${e.reason} (left out)` });
      lines[e.pos.line - 1] = '';
    }
  }
}
