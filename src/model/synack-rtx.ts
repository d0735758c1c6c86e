// The server's SYN-ACK retransmissions (spec/semantics.md §8.1). A listener answers a SYN with a request socket
// (TCP_NEW_SYN_RECV) whose timer resends the SYN-ACK while the handshake's ACK does not come: reqsk_timer_handler
// (net/ipv4/inet_connection_sock.c) fires TCP_TIMEOUT_INIT (1 s) after the SYN-ACK, then doubles the wait
// (timeo = TCP_TIMEOUT_INIT << num_timeout), tcp_synack_retries (5) times: at 1, 3, 7, 15 and 31 s. The request
// goes when a RST for it gets there (tcp_check_req: embryonic_reset), or an ICMP error tcp_v4_err counts as fatal
// for it (tcp_req_err: net or host unreachable, time exceeded, parameter problem). The lab's client has closed its
// socket by then (probes.py stops waiting for the SYN-ACK below 1 s), so a resent SYN-ACK that reaches it
// is answered with a RST (tcp_v4_send_reset). Each resent SYN-ACK passes the rules again.
import type { Pkt } from './eval/packet.ts';
import { TCP } from './eval/packet.ts';

/** tcp_synack_retries' default: the request gives up after this many resent SYN-ACKs */
export const SYNACK_RETRIES = 5;

/** A wait past a retransmission's time by this much (world seconds) has surely seen it: timers run late by a few
 *  jiffies, more on a loaded machine */
export const RTX_MARGIN_S = 0.5;

/** A request socket of a listener whose SYN-ACK the client did not take. */
export interface SynAckRtx {
  /** the listener's host */
  readonly server: string;
  /** the SYN-ACK as the server sends it */
  readonly pkt: Pkt;
  /** world time of the first SYN-ACK */
  readonly at: number;
  /** SYN-ACKs resent so far */
  readonly sent: number;
}

/** The world time (seconds after the first SYN-ACK) of the next resent SYN-ACK: 1, 3, 7, 15, 31. */
export function nextRtxAfter(x: SynAckRtx): number {
  return 2 ** (x.sent + 1) - 1;
}

/** Has the next resent SYN-ACK surely gone by world time `now` ('sure'), or may it go any time ('maybe')? The
 *  probes' own time is not world time (milliseconds, or most of a second for one that times out), so a
 *  retransmission not yet surely gone may come before or during any later probe. */
export function rtxTiming(x: SynAckRtx, now: number): 'sure' | 'maybe' {
  return now - x.at >= nextRtxAfter(x) + RTX_MARGIN_S ? 'sure' : 'maybe';
}

/** Does a packet that reached the server's stack end the request: a RST of its connection, or an ICMP error
 *  quoting the SYN-ACK that tcp_v4_err takes as fatal for a request (tcp_req_err's abort)? */
export function endsRequest(x: SynAckRtx, p: Pkt): boolean {
  const s = x.pkt;
  if (p.proto === 6)
    return (
      (p.tcpFlags & TCP.RST) !== 0 && p.src === s.dst && p.sport === s.dport && p.dst === s.src && p.dport === s.sport
    );
  const q = p.embedded;
  if (p.proto !== 1 || !q || q.proto !== 6) return false;
  if (q.src !== s.src || q.sport !== s.sport || q.dst !== s.dst || q.dport !== s.dport) return false;
  return p.icmpType === 11 || p.icmpType === 12 || (p.icmpType === 3 && (p.icmpCode === 0 || p.icmpCode === 1));
}
