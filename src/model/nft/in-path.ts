// What the packet path needs of an nft ruleset besides the evaluator (spec/nft.md §8): when its rules switch
// conntrack on, how a connection reads to the ct expressions, and the NAT and reject requests of its
// statements in the iptables model's terms (the same kernel code does the work: nf_nat_setup_info,
// nf_send_reset / nf_send_unreach).
import type { CtRef, Pkt } from '../eval/packet.ts';
import type { NatRequest } from '../eval/targets.ts';
import { selector } from './descriptors.ts';
import { CT_STATE, CT_STATUS } from './datatypes.ts';
import type { Expr, NftRuleset, Stmt } from './types.ts';
import type { NftEnv, ResolvedNat } from './eval.ts';

const CT_FIELDS = new Set(['ctmark', 'ctstate', 'ctstatus']);
const usesCt = (e: Expr) =>
  (e.kind === 'sel' || e.kind === 'and' ? [e.name] : e.kind === 'concat' ? e.parts : []).some((n) =>
    CT_FIELDS.has(selector(n).field),
  );

/**
 * Does the ruleset switch conntrack on in its namespace? The ct expressions (nft_ct.c nft_ct_get_init,
 * nft_ct_set_init) and the nat and masquerade statements (nft_nat_init, nft_masq_init) call nf_ct_netns_get;
 * notrack, an empty nat chain and the rest do not (as for iptables: activation.ts).
 */
export function nftNeedsConntrack(rs: NftRuleset): boolean {
  for (const t of rs.tables.values())
    for (const c of t.chains.values())
      for (const r of c.rules)
        for (const s of r.stmts) {
          if (s.k === 'match' && usesCt(s.left)) return true;
          if (s.k === 'vmap' && usesCt(s.key)) return true;
          if (s.k === 'mark' && (s.target === 'ct' || (s.value.kind === 'from' && s.value.from === 'ct'))) return true;
          if (s.k === 'mark' && s.value.kind === 'map' && usesCt(s.value.lookup.key)) return true;
          if (s.k === 'nat' || s.k === 'masquerade') return true;
          // an opaque rest naming conntrack (ct helper set, redirect, ...) switches it on as its expression would
          if (s.k === 'opaque' && /(^|\s)(ct|redirect|dnat|snat|masquerade)(\s|$)/.test(s.text)) return true;
        }
  return false;
}

const STATE_BIT: Record<CtRef['state'], number> = {
  NEW: CT_STATE.new!,
  ESTABLISHED: CT_STATE.established!,
  RELATED: CT_STATE.related!,
  INVALID: CT_STATE.invalid!,
  UNTRACKED: CT_STATE.untracked!,
};

/** The packet's connection as `ct state|status|mark` read it (nft_ct.c nft_ct_get_eval). */
export function ctView(ct: CtRef | undefined, p: Pkt): NftEnv['ct'] {
  if (!ct || p.notrack) return undefined;
  const e = ct.entry;
  const status =
    (e.seenReply ? CT_STATUS['seen-reply']! : 0) |
    (e.assured ? CT_STATUS.assured! : 0) |
    (e.confirmed ? CT_STATUS.confirmed! : 0) |
    (e.srcNat ? CT_STATUS.snat! : 0) |
    (e.dstNat ? CT_STATUS.dnat! : 0);
  return { state: STATE_BIT[ct.state], status, mark: e.mark };
}

/** A nat or masquerade statement as the nat core's request (nft_nat.c nft_nat_eval, nft_masq.c). */
export function natRequestOf(s: ResolvedNat | Extract<Stmt, { k: 'masquerade' }>): NatRequest {
  if (s.k === 'masquerade') {
    const range = s.port !== undefined ? { minPort: s.port, maxPort: s.port } : {};
    return {
      target: 'MASQUERADE',
      range,
      random: s.flags.includes('random'),
      randomFully: s.flags.includes('fully-random'),
      persistent: s.flags.includes('persistent'),
    };
  }
  const range = {
    minIp: s.addr,
    maxIp: s.addrHi ?? s.addr,
    ...(s.port !== undefined ? { minPort: s.port, maxPort: s.portHi ?? s.port } : {}),
  };
  return { target: s.type === 'dnat' ? 'DNAT' : 'SNAT', range, random: false, randomFully: false, persistent: false };
}

/** icmpx codes as IPv4 ICMP codes (net/netfilter/nft_reject.c nft_reject_icmp_code) */
const ICMPX: Record<string, string> = {
  'port-unreachable': 'port-unreachable',
  'admin-prohibited': 'admin-prohibited',
  'no-route': 'net-unreachable',
  'host-unreachable': 'host-unreachable',
};

/** A reject statement as a --reject-with name (answers.ts); the default is port-unreachable in ip and inet. */
export function rejectWith(s: Extract<Stmt, { k: 'reject' }>): string {
  const w = s.with;
  if (!w) return 'icmp-port-unreachable';
  if (w.type === 'tcp-reset') return 'tcp-reset';
  const code = w.type === 'icmpx' ? ICMPX[w.code]! : w.code === 'prot-unreachable' ? 'proto-unreachable' : w.code;
  return `icmp-${code}`;
}
