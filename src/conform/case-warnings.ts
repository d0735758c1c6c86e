// A case's rulesets against its topology: the interfaces and addresses they name that the topology lacks
// (src/model/net/ruleset-warnings.ts), for `check`, `run` and the real-world corpus.
import { parseRuleset, compileTopology, rulesetWarnings } from '../model/index.ts';
import { caseTopology, type CaseFile } from './case-file.ts';

/** One message per interface or address a host's rules name and the case's topology lacks. */
export function caseWarnings(c: CaseFile): string[] {
  const net = compileTopology(caseTopology(c), c.file);
  const out: string[] = [];
  for (const [host, s] of Object.entries(c.hosts ?? {})) {
    if (s.ruleset === undefined) continue;
    // every problem collected, none thrown: a warning must not stop the case (its own run reports errors)
    const rs = parseRuleset(s.ruleset, { file: s.rulesetFile ?? host, backend: s.backend ?? 'nft', problems: [] });
    for (const w of rulesetWarnings(net, host, rs)) out.push(w.message);
  }
  return out;
}
