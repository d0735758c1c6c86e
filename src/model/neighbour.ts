// Neighbour (ARP) resolution of a host that sends on a link (spec/semantics.md §6.5). The lab flushes neighbour
// entries between cases, so a case's first packet to each next hop resolves it. Resolution succeeds when the owner of
// the address answers the ARP request, and it answers only a sender its own routing accepts: arp_process
// (net/ipv4/arp.c) replies after ip_route_input(tip, sip, dev) gives a local route, so a sender that is a martian
// source there (127/8 without route_localnet, one of its own addresses without accept_local, rp_filter) is never
// answered. The sender is chosen by arp_solicit (arp_announce=0): the source of the packet waiting in the entry's
// queue (the newest, neigh_probe's skb_peek_tail) when that is a local address of the sending host (127/8 included),
// else inet_select_addr(dev, target, RT_SCOPE_LINK); arp_announce 1 and 2 narrow that, and arp_ignore and arp_filter
// narrow whom the owner answers (arpIgnored), after its routing check. Each is read per device, combined with
// conf.all as the kernel does (topology.ts IfaceSysctls): arp_announce of the sending device, the others of the
// receiving one. A packet sent while a resolution is under way waits in the queue; the entry's next probe (every
// retrans_time, 1 s; mcast_solicit = 3 probes) asks with its source, and the queue is sent when one is answered,
// or answered with host-unreachable when the last gives up.
import { type U32, formatIp, maskOf } from './ip.ts';
import { confOf, type Host } from './net/topology.ts';
import { lookupRoute, selectSource } from './net/routing.ts';
import { addrType } from './eval/matchers.ts';
import type { HostState, NeighState } from './eval/packet.ts';

/** A resolution gives up mcast_solicit (3) x retrans_time (1 s) after its first probe; a wait this long
 *  (world seconds, a margin added) has surely seen it end */
export const NEIGH_GIVES_UP_S = 4;

/** The key of a host's neighbour entry: the device and the next hop's address. */
export function neighKey(dev: string, addr: U32): string {
  return `${dev} ${formatIp(addr)}`;
}

/** Does an address of `dev` have a subnet holding both `a` and `b` (inet_addr_onlink, inet_ifa_match)? */
function onlinkTogether(h: Host, dev: string, a: U32, b: U32): boolean {
  return (h.ifaces.get(dev)?.addrs ?? []).some((x) => {
    const m = maskOf(x.len);
    return (a & m) >>> 0 === (x.ip & m) >>> 0 && (b & m) >>> 0 === (x.ip & m) >>> 0;
  });
}

/** arp_solicit's sender address for a packet from `src` waiting for `target` on `dev`, by the sending device's
 *  arp_announce (max of conf.all and conf.DEV): 0 the packet's source when local, 1 only when it is also on a
 *  subnet of `dev` with the target, 2 never; else inet_select_addr(dev, target, RT_SCOPE_LINK). */
export function arpSender(h: Host, dev: string, target: U32, src: U32): U32 {
  const announce = confOf(h, dev).arp_announce;
  const local = addrType(h, src, undefined) === 'LOCAL';
  if (local && (announce === 0 || (announce === 1 && onlinkTogether(h, dev, target, src)))) return src;
  return selectSource(h, dev, target) ?? 0;
}

/** Why arp_process does not answer an ARP request for its local `tip` from `sip` arriving on `dev`, by the
 *  receiving device's arp_ignore (max of conf.all and conf.DEV; 1: `tip` is not an address of `dev`; 2: nor on
 *  one subnet of `dev` with `sip`; 8: never: inet_confirm_addr) and arp_filter (conf.all or conf.DEV: the route
 *  back to `sip` does not leave by `dev`); undefined when it answers. */
export function arpIgnored(h: Host, dev: string, sip: U32, tip: U32): string | undefined {
  const conf = confOf(h, dev);
  const ignore = conf.arp_ignore;
  const own = (h.ifaces.get(dev)?.addrs ?? []).some((x) => x.ip === tip);
  if (ignore === 8) return 'arp_ignore=8';
  if (ignore === 1 && !own) return `arp_ignore=1: ${formatIp(tip)} is not an address of ${dev}`;
  if (ignore === 2 && !(own && onlinkTogether(h, dev, tip, sip)))
    return `arp_ignore=2: ${formatIp(tip)} and ${formatIp(sip)} are not on one subnet of ${dev}`;
  if (conf.arp_filter) {
    const back = lookupRoute(h, sip);
    const out = back.type === 'unreachable' ? undefined : back.dev;
    if (out !== dev) return `arp_filter: the route back to ${formatIp(sip)} does not leave by ${dev}`;
  }
  return undefined;
}

/**
 * What a packet meets at a neighbour entry, before the model's unknowns are asked:
 * - `send`: the entry is valid, or this packet's ARP is answered at once;
 * - `silent`: the packet starts a resolution nobody answers; its probe has given up before the resolution
 *   does (3 s), so it hears nothing;
 * - `open`: a resolution may be under way. `mayResolve`: a packet whose ARP would be answered waits in it
 *   (this one or an earlier one), so the entry may be valid by now, or become so while this probe listens;
 *   either way host-unreachable may come while it listens, if the resolution gives up meanwhile.
 * - `maybeValid`: an earlier resolution that a packet with an answered sender waited in is over: it
 *   succeeded (valid) or gave up (this packet, whose ARP is not answered, starts a new one).
 */
export type NeighPlan =
  | { kind: 'send' }
  | { kind: 'silent' }
  | { kind: 'open'; mayResolve: boolean }
  | {
      kind: 'maybeValid';
    };

/** The plan for a packet at entry `key` at world time `now`, whose own ARP would be `answered`; updates the
 *  entry as far as the plan alone decides it (the caller settles `open` and `maybeValid` branches). */
export function neighbourPlan(state: HostState, key: string, now: number, answered: boolean): NeighPlan {
  const e: NeighState | undefined = state.neighbours.get(key);
  if (e?.kind === 'valid') return { kind: 'send' };
  const over = !e || now - e.at >= NEIGH_GIVES_UP_S;
  if (over) {
    // a FAILED (or never made) entry: this packet's probe goes at once (__neigh_event_send, immediate_ok)
    if (answered) {
      state.neighbours.set(key, { kind: 'valid' });
      return { kind: 'send' };
    }
    if (e?.answerable) return { kind: 'maybeValid' };
    state.neighbours.set(key, { kind: 'pending', at: now, answerable: false });
    return { kind: 'silent' };
  }
  // the resolution may have given up already and this packet started the next one: the latest start
  const answerable = e.answerable || answered;
  state.neighbours.set(key, { kind: 'pending', at: now, answerable });
  return { kind: 'open', mayResolve: answerable };
}

/** The entry became valid (an answered probe). */
export function neighbourResolved(state: HostState, key: string): void {
  state.neighbours.set(key, { kind: 'valid' });
}

/** The entry is (still, or again) a resolution nobody answers, started at `now` at the latest. */
export function neighbourPending(state: HostState, key: string, now: number, answerable: boolean): void {
  state.neighbours.set(key, { kind: 'pending', at: now, answerable });
}
