// How each target acts (spec/iptables.md §7). Keyed by the descriptor names, like the matchers; a
// unit test checks that every target descriptor has an action. Terminal targets end the traversal
// with a decision the packet path carries out (REJECT's answer, a NAT binding request); the others
// act on the packet or its connection, and the traversal goes on.
import type { ExtInstance } from '../rules/types.ts';
import type { NatRange } from '../rules/kinds.ts';
import type { Pkt } from './packet.ts';
import type { MatchEnv } from './matchers.ts';
import { optValue, hasOpt } from './options.ts';
import { targetDesc, UNMODELLED_TARGETS } from '../rules/descriptors.ts';

export interface NatRequest {
  target: 'DNAT' | 'SNAT' | 'MASQUERADE' | 'REDIRECT';
  range: NatRange;
  random: boolean;
  randomFully: boolean;
  persistent: boolean;
}

export type TargetAction =
  | { kind: 'reject'; with: string }
  | { kind: 'nat'; nat: NatRequest }
  /** not terminal: acts on the packet or its connection and says what it did, for the trace */
  | { kind: 'continue'; act: (p: Pkt, env: MatchEnv) => string }
  /** terminal for this table: accepted (on to the next table or hook) or dropped; `silent`: a local sender is
   *  not told (no EPERM: nf_queue frees the packet and nf_hook_slow returns 0) */
  | { kind: 'decide'; verdict: 'accept' | 'drop'; silent: boolean; what: string }
  /** an unmodelled target whose effect on the packet's fate is unknown (spec/semantics.md §10) */
  | { kind: 'unknown'; why: string };

type Builder = (ext: ExtInstance) => TargetAction;

const nat =
  (target: NatRequest['target'], rangeOpt: '--to-destination' | '--to-source' | '--to-ports'): Builder =>
  (ext) => ({
    kind: 'nat',
    nat: {
      target,
      range:
        (rangeOpt === '--to-ports' ? optValue(ext, rangeOpt, 'natPorts') : optValue(ext, rangeOpt, 'natDst')) ?? {},
      random: hasOpt(ext, '--random'),
      randomFully: hasOpt(ext, '--random-fully'),
      persistent: hasOpt(ext, '--persistent'),
    },
  });

const noVerdict: Builder = (ext) => ({ kind: 'continue', act: () => ext.name }); // LOG, NFLOG, TRACE

/** Targets that only observe: XT_CONTINUE whatever their options, and nothing the model reads is written
 *  (xt_LOG.c, xt_NFLOG.c, xt_TRACE.c). */
export const OBSERVING_TARGETS: ReadonlySet<string> = new Set(['LOG', 'NFLOG', 'TRACE']);

// NOTRACK and CT --notrack: the packet is not tracked (xt_CT.c notrack_tg)
const notrack: Builder = () => ({
  kind: 'continue',
  act: (p) => {
    p.notrack = true;
    return 'NOTRACK';
  },
});

export const TARGETS: Record<string, Builder> = {
  // xt_NFQUEUE.c + nf_queue(): the lab has no userspace reader, so __nf_queue fails with -ESRCH; with
  // --queue-bypass the packet goes on as if accepted by this table, else it is freed (no error to a sender)
  NFQUEUE: (ext) =>
    hasOpt(ext, '--queue-bypass')
      ? { kind: 'decide', verdict: 'accept', silent: false, what: 'NFQUEUE: no reader, --queue-bypass: accepted' }
      : { kind: 'decide', verdict: 'drop', silent: true, what: 'NFQUEUE: no reader: dropped' },
  // xt_TPROXY.c tproxy_tg4: only a socket with IP_TRANSPARENT takes the packet; the lab has none: NF_DROP
  TPROXY: () => ({ kind: 'decide', verdict: 'drop', silent: false, what: 'TPROXY: no transparent socket: dropped' }),
  // XT_CONTINUE; they rewrite only what the model does not follow (the MSS option, a checksum)
  TCPMSS: (ext) => ({ kind: 'continue', act: () => `TCPMSS ${ext.opts.map((o) => o.name).join(' ')}` }),
  CHECKSUM: () => ({ kind: 'continue', act: () => 'CHECKSUM --checksum-fill' }),
  REJECT: (ext) => ({ kind: 'reject', with: optValue(ext, '--reject-with', 'rejectWith') ?? 'icmp-port-unreachable' }),
  DNAT: nat('DNAT', '--to-destination'),
  SNAT: nat('SNAT', '--to-source'),
  MASQUERADE: nat('MASQUERADE', '--to-ports'),
  REDIRECT: nat('REDIRECT', '--to-ports'),
  MARK: (ext) => {
    // xt_MARK mark_tg: mark = (mark & ~mask) ^ value
    const m = optValue(ext, '--set-xmark', 'xmark')!;
    return {
      kind: 'continue',
      act: (p) => {
        p.mark = ((p.mark & ~m.mask) ^ m.value) >>> 0;
        return `MARK -> 0x${p.mark.toString(16)}`;
      },
    };
  },
  CONNMARK: (ext) => {
    // xt_connmark.c connmark_tg_shift: set-xmark on the ctmark, save-mark and restore-mark through the masks
    const x = optValue(ext, '--set-xmark', 'xmark');
    const nf = optValue(ext, '--nfmask', 'hex32') ?? 0xffffffff;
    const ctm = optValue(ext, '--ctmask', 'hex32') ?? 0xffffffff;
    const save = hasOpt(ext, '--save-mark');
    const restore = hasOpt(ext, '--restore-mark');
    return {
      kind: 'continue',
      act: (p, env) => {
        const e = env.ct?.entry;
        if (!e) return 'CONNMARK (no connection)';
        if (x) e.mark = ((e.mark & ~x.mask) ^ x.value) >>> 0;
        if (save) e.mark = ((e.mark & ~ctm) ^ (p.mark & nf)) >>> 0;
        if (restore) p.mark = ((p.mark & ~nf) ^ (e.mark & ctm)) >>> 0;
        return `CONNMARK ctmark=0x${e.mark.toString(16)} mark=0x${p.mark.toString(16)}`;
      },
    };
  },
  NOTRACK: notrack,
  // xt_CT.c: --notrack wins; a helper only reads the payloads of its protocol (FTP commands, ...), which no
  // probe sends; conntrack zones are not modelled: the packet's fate after such a rule is unknown
  CT: (ext) => {
    if (hasOpt(ext, '--notrack')) return notrack(ext);
    const zone = ext.opts.find((o) => o.name.startsWith('--zone'));
    if (zone) return { kind: 'unknown', why: `CT ${zone.name}: conntrack zones are not modelled (spec/modules.md)` };
    return {
      kind: 'continue',
      act: () => `CT ${ext.opts.map((o) => `${o.name} ${String(o.value)}`).join(' ')}`.trim(),
    };
  },
  LOG: noVerdict,
  NFLOG: noVerdict,
  TRACE: noVerdict,
};

/** The action of an extension target, decoded once when its rule is compiled. An opaque one goes on when
 *  its known effect is XT_CONTINUE with no write the model reads; otherwise its fate is unknown. */
export function targetAction(ext: ExtInstance): TargetAction {
  if (ext.opaque) {
    const known = targetDesc(ext.name) ? undefined : UNMODELLED_TARGETS[ext.name];
    if (known?.effect === 'continue')
      return { kind: 'continue', act: () => `${ext.name} (not modelled: ${known.what}; goes on)` };
    return { kind: 'unknown', why: ext.opaque.why };
  }
  const build = TARGETS[ext.name];
  if (!build) throw new Error(`internal: no action for target ${ext.name}`);
  return build(ext);
}
