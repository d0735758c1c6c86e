// The packet as the model sees it, and the per-host mutable state rules can touch.
import type { U32 } from '../ip.ts';
import type { CtTable, CtEntry, CtDir, CtState, Tuple } from '../conntrack.ts';
import { cloneCtTable, newCtTable } from '../conntrack.ts';

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

export interface Pkt {
  proto: number;
  src: U32;
  dst: U32;
  /** TCP/UDP ports; for ICMP echo, sport is the echo id */
  sport: number;
  dport: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  /** ICMP errors: the header they quote (as the erroring host saw it) */
  embedded?: Tuple;
  mark: number;
  notrack: boolean;
  /** set once a NAT binding picked the source port at random from this range */
  sportRange?: readonly [number, number];
  /** set once a DNAT binding picked the destination port at random from this range */
  dportRange?: readonly [number, number];
}

export interface CtRef {
  entry: CtEntry;
  dir: CtDir;
  state: CtState;
}

export interface HostState {
  ct: CtTable;
  /** recent lists: name -> address -> hit timestamps (seconds) */
  recent: Map<string, Map<U32, number[]>>;
  /** statistic nth counters, keyed by table/chain/rule */
  nth: Map<string, number>;
}

export function newHostState(): HostState {
  return { ct: newCtTable(), recent: new Map(), nth: new Map() };
}

export function cloneHostState(s: HostState): HostState {
  const recent = new Map<string, Map<U32, number[]>>();
  for (const [k, m] of s.recent) recent.set(k, new Map([...m].map(([a, ts]) => [a, [...ts]])));
  return { ct: cloneCtTable(s.ct), recent, nth: new Map(s.nth) };
}

export function clonePkt(p: Pkt): Pkt {
  const c = { ...p };
  if (p.embedded) c.embedded = { ...p.embedded };
  return c;
}
