// Connection tracking and NAT bindings (spec/semantics.md §4).
import { type U32, formatIp } from './ip.ts';
import { PMap } from './pmap.ts';

export interface Tuple {
  proto: number;
  src: U32;
  /** TCP/UDP source port; ICMP: the echo id */
  sport: number;
  dst: U32;
  /** TCP/UDP destination port; ICMP: the message type */
  dport: number;
}

export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';
export type CtDir = 'orig' | 'reply';

export interface CtEntry {
  id: number;
  orig: Tuple;
  reply: Tuple;
  srcNat: boolean;
  dstNat: boolean;
  /** nat table already consulted for this manip type (nf_nat_initialized) */
  natSrcDone: boolean;
  natDstDone: boolean;
  seenReply: boolean;
  confirmed: boolean;
  /** TCP connection closed (RST or FIN): a new SYN replaces it */
  closed: boolean;
  /** closed by a RST (CLOSE), not by the FIN exchange (TIME_WAIT) */
  reset?: boolean;
  /** where the FIN exchange stands after the handshake (tcp_conntracks): FIN_WAIT, CLOSE_WAIT, LAST_ACK or
   *  TIME_WAIT; absent before the first FIN */
  tcpClose?: TcpClose;
  /** the TCP states retransmissions can move this entry to before it is read (tcpMoves); spec/equivalence.md */
  moves?: readonly string[];
  /** picked up in mid-connection (tcp_new with nf_conntrack_tcp_loose=1): its first packet was an ACK without
   *  SYN, FIN or RST, and tcp_conntracks put it in ESTABLISHED at once; the FIN exchange moves it without a reply */
  picked?: boolean;
  /** IPS_ASSURED: the TCP handshake completed, or a UDP stream outlived 2 s */
  assured?: boolean;
  /** model clock when the connection began */
  created?: number;
  mark: number;
  expires: number;
  /** the reply tuple's port was picked at random from this range (--random*, or a clash) */
  randomPort?: readonly [number, number];
  /** a DNAT picked the reply tuple's source port at random from this range (--random with a port range) */
  randomDstPort?: readonly [number, number];
  /** the original source port was picked at random upstream (another host's NAT) */
  origSportRange?: readonly [number, number];
}

export const ICMP_ECHO_REQUEST = 8;
export const ICMP_ECHO_REPLY = 0;
const ICMP_INVERSE: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };

export function invert(t: Tuple): Tuple {
  if (t.proto === 1)
    return { proto: 1, src: t.dst, dst: t.src, sport: t.sport, dport: ICMP_INVERSE[t.dport] ?? t.dport };
  return { proto: t.proto, src: t.dst, sport: t.dport, dst: t.src, dport: t.sport };
}

export function tupleKey(t: Tuple): string {
  return `${t.proto}:${t.src}:${t.sport}>${t.dst}:${t.dport}`;
}

/** The FIN exchange's states of tcp_conntracks (nf_conntrack_proto_tcp.c): sFW, sCW, sLA, sTW. */
export type TcpClose = 'FIN_WAIT' | 'CLOSE_WAIT' | 'LAST_ACK' | 'TIME_WAIT';

/** nf_conntrack_tcp_timeout_{fin_wait,close_wait,last_ack,time_wait} */
const CLOSE_TIMEOUT: Record<TcpClose, number> = { FIN_WAIT: 120, CLOSE_WAIT: 60, LAST_ACK: 30, TIME_WAIT: 120 };

/**
 * tcp_conntracks once a reply was seen (or from a pickup), for the packets of a close: a FIN (either direction) moves
 * ESTABLISHED/SYN_RECV to FIN_WAIT, FIN_WAIT and CLOSE_WAIT to LAST_ACK; an ACK moves FIN_WAIT to CLOSE_WAIT
 * and LAST_ACK to TIME_WAIT (get_conntrack_index: a FIN|ACK counts as a FIN). Other packets leave it.
 */
export function tcpCloseStep(state: TcpClose | undefined, flags: number): TcpClose | undefined {
  if (flags & 0x01) return !state ? 'FIN_WAIT' : state === 'TIME_WAIT' ? state : 'LAST_ACK';
  if (flags & 0x10 && state) return state === 'FIN_WAIT' ? 'CLOSE_WAIT' : state === 'LAST_ACK' ? 'TIME_WAIT' : state;
  return state;
}

/**
 * The states an entry in `state` can reach when retransmitted FINs (`fin`) and ACKs (`ack`) pass it again, in
 * any order and number: the lab reads the entry at some moment of that sequence (spec/equivalence.md).
 */
export function tcpMoves(state: TcpClose | undefined, ops: ReadonlySet<'fin' | 'ack'>): TcpClose[] {
  const seen = new Set<TcpClose | undefined>([state]);
  const todo = [state];
  while (todo.length) {
    const s = todo.pop();
    for (const op of ops) {
      const n = tcpCloseStep(s, op === 'fin' ? 0x01 : 0x10);
      if (!seen.has(n)) (seen.add(n), todo.push(n));
    }
  }
  seen.delete(state);
  return [...seen].filter((x): x is TcpClose => x !== undefined);
}

/** Default timeouts in seconds (nf_conntrack_*_timeout sysctls). */
export function timeoutFor(e: CtEntry): number {
  // nf_conntrack_tcp_timeout_{time_wait,syn_sent} 120 s, close 10 s, established 5 days
  if (e.orig.proto === 6)
    return e.reset
      ? 10
      : e.closed
        ? 120
        : e.tcpClose
          ? CLOSE_TIMEOUT[e.tcpClose]
          : e.seenReply
            ? 432000
            : e.picked
              ? 300 // ESTABLISHED, capped at nf_conntrack_tcp_timeout_unacknowledged: nothing came back
              : 120;
  if (e.orig.proto === 17) return e.seenReply ? 120 : 30;
  return 30;
}

export interface CtTable {
  nextId: number;
  /** both tuples of each confirmed entry -> the entry; persistent (pmap.ts), so a copy of the table is free */
  index: PMap<{ entry: CtEntry; dir: CtDir }>;
  /** entries this table may change in place; others are shared with a clone and copied on first write */
  owned: WeakSet<CtEntry>;
  /** the clock at the last expire(): an entry's expiry is always set later than the clock, so while the
   *  clock stays, nothing can have expired since */
  expiredAt: number;
}

export function newCtTable(): CtTable {
  return { nextId: 1, index: PMap.empty(), owned: new WeakSet(), expiredAt: -Infinity };
}

/** The table's confirmed entries (each once, through its original tuple). */
export function entriesOf(t: CtTable): CtEntry[] {
  const out: CtEntry[] = [];
  for (const x of t.index.values()) if (x.dir === 'orig') out.push(x.entry);
  return out;
}

/**
 * A copy that shares its entries with `t` until either side changes one (copy on write, in lookup), and its
 * index with `t` for good (persistent): a probe clones the world once per branch, and copying every entry
 * made a run of n repeated probes cost O(n^2) (issue 17: repeat 4000 took 57 s).
 */
export function cloneCtTable(t: CtTable): CtTable {
  t.owned = new WeakSet(); // from now on the original shares its entries too
  return { nextId: t.nextId, index: t.index, owned: new WeakSet(), expiredAt: t.expiredAt };
}

/** The table's own copy of a shared entry, put in place of the shared one. */
function own(t: CtTable, e: CtEntry): CtEntry {
  if (t.owned.has(e)) return e;
  const c: CtEntry = { ...e, orig: { ...e.orig }, reply: { ...e.reply } };
  for (const [key, dir] of [
    [tupleKey(e.orig), 'orig'],
    [tupleKey(e.reply), 'reply'],
  ] as const)
    if (t.index.get(key)?.entry === e) t.index = t.index.set(key, { entry: c, dir });
  t.owned.add(c);
  return c;
}

export function expire(t: CtTable, now: number): void {
  if (now === t.expiredAt) return;
  t.expiredAt = now;
  for (const e of entriesOf(t)) {
    if (e.expires > now) continue;
    t.index = t.index.delete(tupleKey(e.orig)).delete(tupleKey(e.reply));
  }
}

/** The entry a tuple belongs to, writable: callers change it (seen reply, NAT, marks, timeouts). */
export function lookup(t: CtTable, tuple: Tuple): { entry: CtEntry; dir: CtDir } | undefined {
  const hit = t.index.get(tupleKey(tuple));
  if (!hit || t.owned.has(hit.entry)) return hit;
  own(t, hit.entry);
  return t.index.get(tupleKey(tuple));
}

export function remove(t: CtTable, e: CtEntry): void {
  t.index = t.index.delete(tupleKey(e.orig)).delete(tupleKey(e.reply));
}

export function unconfirmed(t: CtTable, orig: Tuple): CtEntry {
  return {
    id: t.nextId++,
    orig: { ...orig },
    reply: invert(orig),
    srcNat: false,
    dstNat: false,
    natSrcDone: false,
    natDstDone: false,
    seenReply: false,
    confirmed: false,
    closed: false,
    mark: 0,
    expires: 0,
  };
}

/** __nf_conntrack_confirm: the entry enters the table; a clash loses (the packet is dropped). */
export function confirm(t: CtTable, e: CtEntry, now: number): boolean {
  if (e.confirmed) return true;
  if (t.index.has(tupleKey(e.orig)) || t.index.has(tupleKey(e.reply))) return false;
  e.confirmed = true;
  e.expires = now + timeoutFor(e);
  t.owned.add(e);
  t.index = t.index.set(tupleKey(e.orig), { entry: e, dir: 'orig' }).set(tupleKey(e.reply), { entry: e, dir: 'reply' });
  return true;
}

/**
 * The entries of one flow on each host (spec/observation.md "conntrack"): starting from the tuple its first
 * packet left with, every live confirmed entry one of whose tuples is known, on any host, adds its tuples and
 * their inverses (the packet after that host's NAT, the reply before it), until nothing new is found. Index
 * lookups only: a probe costs the same however many entries the tables hold (issue 17).
 */
export function flowEntries(tables: ReadonlyMap<string, CtTable>, start: Tuple, now: number): Map<string, CtEntry[]> {
  const out = new Map<string, CtEntry[]>([...tables.keys()].map((h) => [h, []]));
  const known = new Set([tupleKey(start)]);
  const todo = [start];
  for (let t = todo.pop(); t; t = todo.pop()) {
    for (const [h, table] of tables) {
      const e = table.index.get(tupleKey(t))?.entry;
      if (!e || !e.confirmed || e.expires <= now || out.get(h)!.includes(e)) continue;
      out.get(h)!.push(e);
      for (const x of [e.orig, e.reply, invert(e.orig), invert(e.reply)])
        if (!known.has(tupleKey(x))) (known.add(tupleKey(x)), todo.push(x));
    }
  }
  return out;
}

/** nf_nat_used_tuple: is this reply tuple taken by another confirmed connection? */
export function replyTaken(t: CtTable, reply: Tuple, self: CtEntry): boolean {
  const hit = t.index.get(tupleKey(reply));
  return hit !== undefined && hit.entry !== self;
}

export function formatTuple(
  t: Tuple,
  randomDport?: readonly [number, number],
  randomSport?: readonly [number, number],
): string {
  const proto = t.proto;
  if (proto === 6 || proto === 17) {
    const dport = randomDport ? `${randomDport[0]}-${randomDport[1]}` : `${t.dport}`;
    const sport = randomSport ? `${randomSport[0]}-${randomSport[1]}` : `${t.sport}`;
    return `${formatIp(t.src)}:${sport}>${formatIp(t.dst)}:${dport}`;
  }
  if (proto === 1) return `${formatIp(t.src)}>${formatIp(t.dst)} id=${t.sport}`;
  return `${formatIp(t.src)}>${formatIp(t.dst)}`;
}

/** The TCP state /proc/net/nf_conntrack shows, as far as the model follows a probe's connection: the FIN
 *  exchange is played packet by packet (probe.ts close), each packet moving the entries it passes. */
export function tcpStateOf(e: CtEntry): string {
  // a RST (or nf_ct_set_closing) closes a connection in any state, answered or not (tcp_conntracks: rst -> sCL)
  if (e.reset) return 'CLOSE';
  if (!e.seenReply && !e.picked) return 'SYN_SENT';
  if (e.closed) return 'TIME_WAIT';
  if (e.tcpClose) return e.tcpClose;
  return e.assured || e.picked ? 'ESTABLISHED' : 'SYN_RECV';
}

/** The status flags /proc/net/nf_conntrack shows ([UNREPLIED], [ASSURED]). */
export function ctFlagsOf(e: CtEntry): string[] {
  return [...(e.assured ? ['ASSURED'] : []), ...(e.seenReply ? [] : ['UNREPLIED'])];
}

export const PROTO_LABEL: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };
