// The decisions the packet path leaves to netfilter's semantics, as one injected strategy. The
// kernel's reading (KERNEL) is the model; a model mutant (mutants.ts) replaces one decision with a
// plausible misreading, so that campaigns can show they would notice it. The path calls these
// through `lab.semantics`, never through a branch on a mutant's name.
import type { U32 } from './ip.ts';
import type { Hook, TableName, Ruleset } from './rules/types.ts';
import { confOf, type Host, type Iface } from './net/topology.ts';
import { selectMasqueradeSource } from './net/routing.ts';
import { martian, reversePath } from './net/martians.ts';
import { answerFor } from './answers.ts';
import type { CtEntry, CtDir } from './conntrack.ts';
import type { HostState, Pkt, CtRef } from './eval/packet.ts';
import type { NatRequest } from './eval/targets.ts';
import type { TraceEvent } from './trace.ts';
import { conntrackIn, conntrackConfirm } from './tracking.ts';
import { natSetup, natManip, type ManipType, type NatSite } from './nat.ts';
import { needsConntrack } from './activation.ts';

/** One host as a journey sees it: its state, the clock, the trace, and the semantics in force. */
export interface HostCtx {
  readonly name: string;
  readonly host: Host;
  readonly state: HostState;
  readonly now: number;
  readonly sem: Semantics;
  choose(p: number, label: string): boolean;
  emit(e: TraceEvent): void;
  /** the journey touched this connection (its entry is reported after the probe) */
  note(e: CtEntry): void;
}

/** What runs at a hook, in priority order: a table, conntrack's lookup ('ct') or its confirmation. */
export type HookStep = TableName | 'ct' | 'confirm';

export interface Semantics {
  /** the tables and conntrack steps of each hook in priority order (spec/semantics.md §2) */
  readonly hookOrder: Readonly<Record<Hook, readonly HookStep[]>>;
  /** does a loaded ruleset switch conntrack on in its namespace (spec/semantics.md §4.1) */
  needsConntrack(rs: Ruleset): boolean;
  /** nf_conntrack_in: the packet's connection */
  conntrackIn(cx: HostCtx, p: Pkt): CtRef | undefined;
  /** __nf_conntrack_confirm; false drops the packet */
  conntrackConfirm(cx: HostCtx, ct: CtRef | undefined): boolean;
  /** which direction's packet confirms a new entry */
  confirmedBy(dir: CtDir): boolean;
  /** a TCP connection whose first reply is a RST is deleted at once */
  readonly rstOnlyReplyDeletes: boolean;
  /** nf_nat_setup_info */
  natSetup(cx: HostCtx, e: CtEntry, mtype: ManipType, req: NatRequest | undefined, site: NatSite): boolean;
  /** nf_nat_packet and nf_nat_icmp_reply_translation */
  natManip(cx: HostCtx, hook: Hook, p: Pkt, ct: CtRef): void;
  /** the address MASQUERADE takes for a packet routed out of `outIf` to `nextHop` */
  masqueradeSource(h: Host, outIf: string, nextHop: U32): U32 | undefined;
  /** how a ruleset is loaded: as written (a mutant may misread it, e.g. goto as jump) */
  load(rs: Ruleset): Ruleset;
  /** the packet mark is cleared when a frame crosses into another namespace (skb_scrub_packet) */
  readonly scrubsMark: boolean;
  /** may a bridge send a frame back out of the port it came in on */
  hairpinAllowed(port: Iface): boolean;
  /** br_netfilter hands a bridged frame to the IPv4 FORWARD hooks */
  readonly bridgedForward: boolean;
  /** does the host route packets received on `inIf` that are not for it; does its bridge forward frames */
  forwards(h: Host, inIf: string): boolean;
  bridges(h: Host): boolean;
  /** martian addresses and reverse-path filtering at the routing decision (net/martians.ts) */
  martian(h: Host, inIf: string, src: U32, dst: U32): string | undefined;
  reversePath(h: Host, inIf: string, src: U32): string | undefined;
  /** the answer a host sends for a refused packet (answers.ts) */
  answerFor(h: Host, o: Pkt, withWhat: string, ct: CtRef | undefined): { pkt: Pkt; ct: CtRef | undefined };
}

/** The kernel's semantics: the reference model. */
export const KERNEL: Semantics = {
  hookOrder: {
    PREROUTING: ['raw', 'ct', 'mangle', 'nat'],
    INPUT: ['mangle', 'filter', 'security', 'nat', 'confirm'],
    FORWARD: ['mangle', 'filter', 'security'],
    OUTPUT: ['raw', 'ct', 'mangle', 'nat', 'filter', 'security'],
    POSTROUTING: ['mangle', 'nat', 'confirm'],
  },
  needsConntrack,
  conntrackIn,
  conntrackConfirm,
  // __nf_conntrack_confirm: only the packet that created the connection confirms it
  confirmedBy: (dir) => dir === 'orig',
  rstOnlyReplyDeletes: true,
  natSetup,
  natManip,
  masqueradeSource: (h, outIf, nextHop) => selectMasqueradeSource(h, outIf, nextHop),
  load: (rs) => rs,
  scrubsMark: true,
  hairpinAllowed: (port) => port.hairpin === true,
  bridgedForward: true,
  // IN_DEV_FORWARD(in_dev): the input interface's conf.forwarding (ip_forward writes every interface's)
  forwards: (h, inIf) => confOf(h, inIf).forwarding,
  bridges: () => true,
  martian,
  reversePath,
  answerFor,
};
