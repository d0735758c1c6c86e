// When connection tracking runs in a namespace (spec/semantics.md §4.1).
import type { Ruleset } from './rules/types.ts';

// connmark_mt_check and connlimit_mt_check call nf_ct_netns_get too (spec/modules.md)
const CT_MATCHES = new Set(['conntrack', 'state', 'connmark', 'connlimit']);
// NOTRACK and CT --notrack do not take a conntrack reference (xt_CT.c: notrack_chk, xt_ct_tg_check)
const CT_TARGETS = new Set(['CONNMARK', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT']);

/**
 * Conntrack runs in a namespace only once a rule needs it: the NAT targets, the
 * conntrack and state matches and CONNMARK call nf_ct_netns_get when they are
 * loaded. An empty nat table does not (measured: suites/seed/C18), nor do
 * NOTRACK and CT --notrack (found by fuzzing).
 */
export function needsConntrack(rs: Ruleset): boolean {
  for (const t of rs.tables.values()) {
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        if (r.matches.some((m) => CT_MATCHES.has(m.name))) return true;
        if (r.target?.kind === 'ext' && CT_TARGETS.has(r.target.ext.name)) return true;
        // xt_ct_tg_check: every CT but --notrack (a helper, a zone, or none) takes the reference
        if (
          r.target?.kind === 'ext' &&
          r.target.ext.name === 'CT' &&
          !r.target.ext.opaque &&
          !r.target.ext.opts.some((o) => o.name === '--notrack')
        )
          return true;
      }
    }
  }
  return false;
}
