// The observation record: the result of one probe, the same shape for the
// model and the kernel lab (spec/observation.md).

export type Outcome = 'delivered' | 'refused' | 'icmp-error' | 'echo-reply' | 'dropped';

export interface ConntrackRecord {
  proto: string;
  orig: string;
  reply: string;
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

export interface Observation {
  outcome: Outcome;
  /** host whose server answered */
  responder: string | null;
  /** source and destination as the server saw them; a NAT-picked random port is shown as lo-hi */
  seen: { src: string; dst: string } | null;
  icmp: string | null;
  conntrack: Record<string, ConntrackRecord[]>;
  droppedAt: DropPoint | null;
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
