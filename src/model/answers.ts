// The answers a host's stack sends for a packet it refuses (spec/semantics.md §6.3): the TCP reset
// or ICMP destination-unreachable of a REJECT, the net-unreachable of a missing route, or the time-exceeded
// of a TTL that runs out in ip_forward.
import type { U32 } from './ip.ts';
import type { Host } from './net/topology.ts';
import { lookupRoute, selectSource } from './net/routing.ts';
import { type Pkt, type CtRef, TCP, DEFAULT_TTL } from './eval/packet.ts';
import { tupleOf } from './tracking.ts';
import { ICMP_UNREACH_NAMES } from './observation.ts';

const REJECT_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(ICMP_UNREACH_NAMES).map(([code, name]) => [`icmp-${name}`, Number(code)]),
);

/** The `with` of ip_forward's answer to a packet whose TTL runs out: no REJECT sends it (icmp_send
 *  ICMP_TIME_EXCEEDED, ICMP_EXC_TTL: type 11, code 0). */
export const TIME_EXCEEDED = 'icmp-time-exceeded';
/** The `with` of ip_rt_send_redirect's redirect (icmp_send ICMP_REDIRECT, ICMP_REDIR_HOST: type 5, code 1); its
 *  gateway field is not kept in the packet (the path keeps it) */
export const REDIRECT = 'icmp-redirect';

/** nf_conntrack_attach: an answer generated for a packet joins its connection, in the other direction. */
export function relatedTo(ct: CtRef | undefined): CtRef | undefined {
  return ct ? { entry: ct.entry, dir: ct.dir === 'orig' ? 'reply' : 'orig', state: 'RELATED' } : undefined;
}

/** The answer `h` sends for the refused packet `o` (`with`: a --reject-with name), and its connection. */
export function answerFor(
  h: Host,
  o: Pkt,
  withWhat: string,
  ct: CtRef | undefined,
): { pkt: Pkt; ct: CtRef | undefined } {
  if (withWhat === 'tcp-reset') {
    const pkt: Pkt = {
      proto: 6,
      src: o.dst,
      dst: o.src,
      sport: o.dport,
      dport: o.sport,
      tcpFlags: TCP.RST | TCP.ACK,
      icmpType: 0,
      icmpCode: 0,
      mark: 0,
      notrack: false,
      ttl: DEFAULT_TTL,
    };
    // nf_ct_attach: the reset rides on the rejected packet's connection, as RELATED in the other direction
    return { pkt, ct: relatedTo(ct) };
  }
  const [type, code] =
    withWhat === TIME_EXCEEDED ? [11, 0] : withWhat === REDIRECT ? [5, 1] : [3, REJECT_CODES[withWhat] ?? 3];
  const back = lookupRoute(h, o.src);
  const src: U32 = h.local.has(o.dst)
    ? o.dst
    : back.type === 'unicast'
      ? (selectSource(h, back.dev, back.nextHop) ?? 0)
      : 0;
  const pkt: Pkt = {
    proto: 1,
    src,
    dst: o.src,
    sport: 0,
    dport: 0,
    tcpFlags: 0,
    icmpType: type,
    icmpCode: code,
    mark: 0,
    notrack: false,
    ttl: DEFAULT_TTL,
    embedded: tupleOf(o),
  };
  // icmp_glue_bits: every ICMP error icmp_send builds is nf_ct_attach'ed to the offending packet's
  // connection (RELATED, other direction), confirmed or not: NAT translates it back (measured:
  // a DNATed probe REJECTed in FORWARD hears the error from the Service address)
  return { pkt, ct: relatedTo(ct) };
}
