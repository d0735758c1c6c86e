// The packet as the model sees it, and the per-host mutable state rules can touch.
import { type U32, formatIp } from '../ip.ts';
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
  /** the IP header's TTL: every sender in the lab starts at 64 (net.ipv4.ip_default_ttl), ip_forward takes one
   *  before FORWARD; a bridged frame keeps it (xt_recent --rttl reads it) */
  ttl: number;
  /** the socket a locally generated packet carries (xt_owner): a process's, or a kernel control socket's
   *  (resets, ICMP errors, echo replies); absent for forwarded packets and REJECT's resets */
  sock?: { host: string; kind: 'process' | 'kernel' };
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
  /** recent lists: name -> address -> its entry */
  recent: Map<string, Map<U32, RecentEntry>>;
  /** statistic nth counters, keyed by table/chain/rule */
  nth: Map<string, number>;
  /** limit/hashlimit buckets: packets that may have spent a token of each (spec/modules.md); key "*" counts
   *  packets no bucket can be sure of (a conntrack flush lets old flows start anew) */
  tokens: Map<string, number>;
  /** elements nft add/update statements put in named sets: "family table set" -> key -> entry (nft/dyn-state.ts) */
  nftSets: Map<string, Map<string, NftDynEntry>>;
  /** `numgen inc` counters: "family table" NUL numgenKey (nft/eval.ts) -> the last value it gave; absent: as loaded */
  nftInc: Map<string, number>;
  /** ip_error's bucket per source address (route-errors.ts): a lower bound of its tokens (ms) at world time `at` */
  routeErrors: Map<U32, { low: number; at: number }>;
  /** ip_rt_send_redirect's count per source (route-errors.ts): redirects sent since the last silence, the last at */
  redirects: Map<U32, { n: number; at: number }>;
  /** nexthop exceptions a taken ICMP redirect made (__ip_do_redirect): destination -> its new gateway, or
   *  'unknown' where whether one was made is open (path.ts sendRedirect) */
  exceptions: Map<U32, U32 | 'unknown'>;
  /** the host's neighbour (ARP) entries the case made: "dev address" -> its state (path.ts resolve, spec §6.5) */
  neighbours: Map<string, NeighState>;
}

/** An xt_recent entry: its hit timestamps (seconds, the last 20) and the TTL stored with it (`recent_mt`: the
 *  TTL of the packet that set it or last updated it; 0 from a /proc write, which `--rttl` takes for any). */
export interface RecentEntry {
  stamps: number[];
  ttl: number;
}

/** The sysctl net.ipv4.ip_default_ttl of a new namespace: the TTL every packet of the lab starts with. */
export const DEFAULT_TTL = 64;

/**
 * A neighbour entry (the lab flushes them between cases): `valid` once an ARP of it was answered (REACHABLE,
 * later STALE, still used); `pending` while a resolution nobody answered may be under way, since world time
 * `at` (the latest packet that may have started it); `answerable`: a packet whose ARP would be answered waited
 * in it, so the resolution may have succeeded since.
 */
export type NeighState = { kind: 'valid' } | { kind: 'pending'; at: number; answerable: boolean };

/** One element a rule added to an nft set: its key, when it expires (world seconds; absent: never), and the
 *  probe that added it (the world's probe count then). */
export interface NftDynEntry {
  key: (number | string)[];
  expires?: number;
  probe: number;
  /** a data map's value for it (nft_dynset_new: set when the element is made, kept by later updates) */
  data?: (number | string)[];
  /** a rule's `delete @s` marked it dead then (world seconds): lookups miss it at once, the set's count keeps it
   *  until the garbage collector runs (nft_set_hash.c nft_rhash_delete, nft_rhash_gc) */
  dead?: number;
}

export function newHostState(): HostState {
  return {
    ct: newCtTable(),
    recent: new Map(),
    nth: new Map(),
    tokens: new Map(),
    nftSets: new Map(),
    nftInc: new Map(),
    routeErrors: new Map(),
    redirects: new Map(),
    exceptions: new Map(),
    neighbours: new Map(),
  };
}

export function cloneHostState(s: HostState): HostState {
  const recent = new Map<string, Map<U32, RecentEntry>>();
  for (const [k, m] of s.recent) recent.set(k, new Map([...m].map(([a, e]) => [a, { ...e, stamps: [...e.stamps] }])));
  const nftSets = new Map([...s.nftSets].map(([k, m]) => [k, new Map(m)] as const));
  const routeErrors = new Map([...s.routeErrors].map(([a, b]) => [a, { ...b }] as const));
  const neighbours = new Map(s.neighbours);
  const redirects = new Map([...s.redirects].map(([a, b]) => [a, { ...b }] as const));
  const [nth, tokens] = [new Map(s.nth), new Map(s.tokens)];
  return {
    ct: cloneCtTable(s.ct),
    recent,
    nth,
    tokens,
    nftSets,
    nftInc: new Map(s.nftInc),
    routeErrors,
    redirects,
    neighbours,
    exceptions: new Map(s.exceptions),
  };
}

export function clonePkt(p: Pkt): Pkt {
  const c = { ...p };
  if (p.embedded) c.embedded = { ...p.embedded };
  if (p.sock) c.sock = { ...p.sock };
  return c;
}

/** One line for traces: "tcp a:p > b:q [SYN]", "icmp a > b type=8 code=0 id=N". */
export function formatPkt(p: Pkt): string {
  const proto = p.proto === 6 ? 'tcp' : p.proto === 17 ? 'udp' : p.proto === 1 ? 'icmp' : `proto ${p.proto}`;
  if (p.proto === 6 || p.proto === 17) {
    const flags =
      p.proto === 6
        ? ` [${['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'].filter((_, i) => p.tcpFlags & (1 << i)).join(',')}]`
        : '';
    return (
      `${proto} ${formatIp(p.src)}:${p.sport} >` +
      ` ${formatIp(p.dst)}:${p.dport}${flags}${p.mark ? ` mark=0x${p.mark.toString(16)}` : ''}`
    );
  }
  if (p.proto === 1)
    return (
      `icmp ${formatIp(p.src)} >` +
      ` ${formatIp(p.dst)} type=${p.icmpType} code` +
      `=${p.icmpCode}${p.icmpType === 8 || p.icmpType === 0 ? ` id=${p.sport}` : ''}`
    );
  return `${proto} ${formatIp(p.src)} > ${formatIp(p.dst)}`;
}
