// The observation record: the result of one probe, the same shape for the
// model and the kernel lab (spec/observation.md).

export type Outcome = ExactOutcome | 'indeterminate';
/** What a journey the model could follow to its end did. */
export type ExactOutcome = 'delivered' | 'refused' | 'icmp-error' | 'echo-reply' | 'dropped';

/** A rule the model could not evaluate, where a journey reached it (spec/semantics.md §10). */
export interface UnknownRule {
  host: string;
  hook: string;
  table: string;
  chain: string;
  rule: number;
  /** the rule as iptables-save prints it */
  spec: string;
  /** what the model does not know: "match module \"foo\"", "target NFQUEUE" */
  why: string;
}

/** What an `indeterminate` observation leaves open (spec/observation.md). */
export interface Indeterminate {
  /** every outcome some answer of the unknown rules leads to, sorted */
  outcomes: ExactOutcome[];
  /** the unknown rules whose answer changes the result (the rules that decide) */
  decidedBy: UnknownRule[];
  /** the observation of each distinct result; an open one (an unmodelled target took the packet) is itself
   *  indeterminate, with `open` set */
  possible: Observation[];
  /** an unmodelled target took the packet somewhere: its fate, not only its verdict, is unknown, so any
   *  observation whose outcome is in `outcomes` is possible */
  open: boolean;
}

export interface ConntrackRecord {
  proto: string;
  orig: string;
  reply: string;
  /** TCP only: SYN_SENT, SYN_RECV, ESTABLISHED, TIME_WAIT, CLOSE, ... */
  state: string | null;
  /** ASSURED, UNREPLIED (sorted) */
  flags: string[];
  /** model only: the TCP states the connection's retransmissions (a FIN or the server's SYN-ACK, data or FIN
   *  sent again, and the ACKs answering them) can move it to by the time the lab reads it; the kernel's
   *  state may be any of these instead of `state` (spec/equivalence.md) */
  moves?: string[];
}

export interface DropPoint {
  host: string;
  hook: string | null;
  table: string | null;
  chain: string | null;
  rule: number | 'policy' | null;
  /** set when no rule dropped it (routing, bridge, martian, ...) */
  reason: string | null;
}

/** What told the client that its probe failed (spec/observation.md). */
export interface ErrorReport {
  /** a TCP reset, an ICMP error, or the client's own stack refusing the send (no packet answered) */
  kind: 'tcp-reset' | 'icmp' | 'local';
  /** source address of the reset or ICMP error as the client received it (after any NAT) */
  from: string | null;
  /** ICMP type and code */
  type: number | null;
  code: number | null;
  /** the header the ICMP error quotes, as the client received it: "udp a:p>b:q", "icmp a>b id=N" */
  quoted: string | null;
  /** the errno of the send or connect itself: EPERM (a DROP or REJECT in the client's OUTPUT or
   *  POSTROUTING, for UDP and ICMP; TCP retransmits instead), ENETUNREACH (no route) */
  errno: string | null;
}

export interface Observation {
  outcome: Outcome;
  /** host whose server answered (delivered), or that owns the echo reply's source (echo-reply); never
   *  the sender of a reset or ICMP error: that is `error.from` */
  responder: string | null;
  /** source address of whatever answered (reply, echo reply, reset, ICMP error) as the client received it */
  replyFrom: string | null;
  error: ErrorReport | null;
  /** source and destination as the server saw them; a NAT-picked random port is shown as lo-hi */
  seen: { src: string; dst: string } | null;
  icmp: string | null;
  conntrack: Record<string, ConntrackRecord[]>;
  droppedAt: DropPoint | null;
  /** only with outcome `indeterminate` (the model's side): what is open; the other fields are then empty */
  indeterminate?: Indeterminate;
}

/** One possible result and its exact probability (statistic rules yield several). */
export interface Weighted<T> {
  p: number;
  value: T;
}

export const ICMP_UNREACH_NAMES: Record<number, string> = {
  0: 'net-unreachable',
  1: 'host-unreachable',
  2: 'proto-unreachable',
  3: 'port-unreachable',
  9: 'net-prohibited',
  10: 'host-prohibited',
  13: 'admin-prohibited',
};
