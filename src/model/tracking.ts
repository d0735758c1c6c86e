// Connection tracking at the hooks (spec/semantics.md §4): nf_conntrack_in at the first hook a
// packet meets in a namespace, and __nf_conntrack_confirm at the last. The table itself is
// conntrack.ts.
import {
  type Tuple,
  type CtState,
  invert,
  lookup,
  unconfirmed,
  confirm,
  expire,
  remove,
  timeoutFor,
  tcpCloseStep,
} from './conntrack.ts';
import { type Pkt, type CtRef, TCP } from './eval/packet.ts';
import type { HostCtx } from './semantics.ts';

export function isIcmpError(p: Pkt): boolean {
  // icmp_is_err: destination unreachable, source quench, redirect, time exceeded, parameter problem
  return p.proto === 1 && [3, 4, 5, 11, 12].includes(p.icmpType) && p.embedded !== undefined;
}

/** The conntrack tuple of a packet: TCP/UDP ports; ICMP the echo id and the type. */
export function tupleOf(p: Pkt): Tuple {
  if (p.proto === 1) return { proto: 1, src: p.src, dst: p.dst, sport: p.sport, dport: p.icmpType };
  if (p.proto === 6 || p.proto === 17)
    return { proto: p.proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport };
  return { proto: p.proto, src: p.src, dst: p.dst, sport: 0, dport: 0 };
}

/** nf_conntrack_in: the packet's connection and its state, creating an unconfirmed entry for a new one. */
export function conntrackIn(cx: HostCtx, p: Pkt): CtRef | undefined {
  const table = cx.state.ct;
  expire(table, cx.now);
  const say = (what: string) => cx.emit({ kind: 'ct', host: cx.name, what });
  if (isIcmpError(p)) {
    const hit = lookup(table, invert(p.embedded!));
    if (!hit) {
      say('ICMP error relates to no known connection: INVALID');
      return undefined;
    }
    cx.note(hit.entry);
    say(`RELATED to connection #${hit.entry.id} (${hit.dir} direction)`);
    return { entry: hit.entry, dir: hit.dir, state: 'RELATED' };
  }
  const t = tupleOf(p);
  let hit = lookup(table, t);
  if (hit && p.proto === 6 && hit.entry.closed && hit.dir === 'orig' && p.tcpFlags & TCP.SYN) {
    say(`SYN reopens closed connection #${hit.entry.id}: old entry destroyed`);
    remove(table, hit.entry);
    hit = undefined;
  }
  if (hit) {
    const e = hit.entry;
    if (p.proto === 6 && p.tcpFlags & TCP.RST && hit.dir === 'reply' && !e.seenReply && cx.sem.rstOnlyReplyDeletes) {
      // nf_conntrack_proto_tcp: "if only reply is a RST ... delete the conntrack immediately";
      // this packet keeps its reference (and its NAT), the table forgets the entry
      remove(table, e);
      e.closed = true;
      cx.note(e);
      say(`first reply is a RST: connection #${e.id} deleted`);
      return { entry: e, dir: 'reply', state: 'ESTABLISHED' };
    }
    const repliedBefore = e.seenReply;
    // tcp_packet: IPS_ASSURED when, a reply seen before this packet (nf_conntrack_in sets IPS_SEEN_REPLY after
    // it), a packet moves the connection from SYN_RECV or ESTABLISHED to ESTABLISHED: an ACK without SYN, FIN or
    // RST (get_conntrack_index), in the original direction (the handshake's ACK), or either way once picked up
    if (
      p.proto === 6 &&
      repliedBefore &&
      !e.closed &&
      e.tcpClose === undefined &&
      (p.tcpFlags & (TCP.SYN | TCP.FIN | TCP.RST)) === 0 &&
      (p.tcpFlags & TCP.ACK) !== 0 &&
      (hit.dir === 'orig' || e.picked)
    )
      e.assured = true;
    if (hit.dir === 'reply') e.seenReply = true;
    if (p.proto === 6 && p.tcpFlags & TCP.RST) e.closed = e.reset = true;
    // tcp_conntracks after a reply: the FIN exchange, either direction (TIME_WAIT: closed, a SYN reopens it)
    if (p.proto === 6 && (e.seenReply || e.picked) && !e.closed) {
      const next = tcpCloseStep(e.tcpClose, p.tcpFlags);
      if (next) e.tcpClose = next;
      if (next === 'TIME_WAIT') e.closed = true;
    }
    // nf_conntrack_proto_udp: a flow that has seen a reply and still sends after 2 s (stream_ts)
    if (e.seenReply && !e.closed && p.proto === 17 && cx.now - (e.created ?? cx.now) > 2) e.assured = true;
    e.expires = cx.now + timeoutFor(e);
    const state: CtState = hit.dir === 'reply' || e.seenReply ? 'ESTABLISHED' : 'NEW';
    cx.note(e);
    say(`${state} (${hit.dir} direction of #${e.id})`);
    return { entry: e, dir: hit.dir, state };
  }
  if (p.proto === 6) {
    const syn = (p.tcpFlags & (TCP.SYN | TCP.ACK | TCP.RST)) === TCP.SYN;
    // tcp_new with nf_conntrack_tcp_loose=1: tcp_conntracks takes sNO to ESTABLISHED on an ACK alone
    // (get_conntrack_index: a FIN|ACK is a FIN, sNO -> sIV; a SYN|ACK too)
    const looseAck = (p.tcpFlags & (TCP.SYN | TCP.RST | TCP.FIN)) === 0 && (p.tcpFlags & TCP.ACK) !== 0;
    if (!syn && !looseAck) {
      say('TCP packet cannot start a connection: INVALID');
      return undefined;
    }
  }
  if (p.proto === 1 && p.icmpType !== 8 && p.icmpType !== 13 && p.icmpType !== 15 && p.icmpType !== 17) {
    say('ICMP message that is not a request: INVALID');
    return undefined;
  }
  const e = unconfirmed(table, t);
  e.created = cx.now;
  if (p.proto === 6 && (p.tcpFlags & TCP.SYN) === 0) e.picked = true;
  if (p.sportRange) e.origSportRange = p.sportRange;
  cx.note(e);
  say(`NEW connection #${e.id} (unconfirmed)`);
  return { entry: e, dir: 'orig', state: 'NEW' };
}

/** __nf_conntrack_confirm at the last hook: false when the entry clashes (the packet is dropped). */
export function conntrackConfirm(cx: HostCtx, ct: CtRef | undefined): boolean {
  if (!ct || ct.entry.confirmed) return true;
  // only the packet that created the connection confirms it; a REJECT's answer is attached in
  // the reply direction and leaves an unconfirmed entry unconfirmed
  if (!cx.sem.confirmedBy(ct.dir)) return true;
  const ok = confirm(cx.state.ct, ct.entry, cx.now);
  cx.emit({
    kind: 'ct',
    host: cx.name,
    what: ok
      ? `confirmed #${ct.entry.id}`
      : `confirm of #${ct.entry.id} clashes with an existing entry: packet dropped`,
  });
  return ok;
}
