// Kernel objects a ruleset refers to by name and that must exist before iptables-restore
// accepts it: nfacct counters (xt_nfacct.c nfacct_mt_checkentry: ENOENT when the counter is absent).
import { tokenize } from './tokenize.ts';

/** The nfacct counter names a ruleset text uses, as libxt_nfacct stores them (first 31 characters). */
export function nfacctNames(text: string): string[] {
  const names = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (!line.includes('--nfacct-name')) return;
    let toks;
    try {
      toks = tokenize(line, '<ruleset>', i + 1);
    } catch {
      return; // the parser reports the bad line
    }
    toks.forEach((t, j) => {
      const v = toks[j + 1]?.text;
      if (t.text === '--nfacct-name' && v) names.add(v.slice(0, 31));
    });
  });
  return [...names];
}
