// The routing decision and source address selection (spec/semantics.md §3).
import { type U32, maskOf, isLoopback } from '../ip.ts';
import type { Host } from './topology.ts';

export type RouteResult =
  { type: 'local'; dev: string } | { type: 'unicast'; dev: string; nextHop: U32; via?: U32 } | { type: 'unreachable' };

/** The local table first (own addresses, 127/8), then the main table by longest prefix. */
export function lookupRoute(h: Host, dst: U32): RouteResult {
  const owner = h.local.get(dst);
  if (owner !== undefined) return { type: 'local', dev: owner };
  if (isLoopback(dst)) return { type: 'local', dev: 'lo' };
  for (const r of h.routes) {
    if ((dst & maskOf(r.dst.len)) >>> 0 === r.dst.addr) {
      return r.via === undefined
        ? { type: 'unicast', dev: r.dev, nextHop: dst }
        : { type: 'unicast', dev: r.dev, nextHop: r.via, via: r.via };
    }
  }
  return { type: 'unreachable' };
}

/** inet_select_addr: an address of `dev` on the same subnet as `target`, else its first one, else any of the host's. */
export function selectSource(h: Host, dev: string, target: U32): U32 | undefined {
  const iface = h.ifaces.get(dev);
  const own = iface?.addrs ?? [];
  const same = own.find((a) => (a.ip & maskOf(a.len)) >>> 0 === (target & maskOf(a.len)) >>> 0);
  if (same) return same.ip;
  if (own[0] && iface?.kind !== 'lo') return own[0].ip;
  for (const i of h.ifaces.values()) if (i.kind !== 'lo' && i.addrs[0]) return i.addrs[0].ip;
  return own[0]?.ip;
}

/**
 * MASQUERADE's source: inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE) (nf_nat_masquerade_ipv4). Host-scope
 * addresses (127/8: the kernel's on lo, iproute2's default scope for 127/8 elsewhere) are never taken, not even
 * with route_localnet; when the interface has none left, the first universe address of any interface in device
 * order is (the topology's order, in which the lab creates them).
 */
export function selectMasqueradeSource(h: Host, dev: string, target: U32): U32 | undefined {
  const universe = (i: { addrs: { ip: U32; len: number }[] } | undefined) =>
    (i?.addrs ?? []).filter((a) => a.ip >>> 24 !== 127);
  const own = universe(h.ifaces.get(dev));
  const same = own.find((a) => (a.ip & maskOf(a.len)) >>> 0 === (target & maskOf(a.len)) >>> 0);
  if (same) return same.ip;
  if (own[0]) return own[0].ip;
  for (const i of h.ifaces.values()) {
    const first = universe(i)[0];
    if (first) return first.ip;
  }
  return undefined;
}

/** Is `a` a subnet broadcast address of one of the host's interfaces? */
export function isBroadcast(h: Host, a: U32): boolean {
  if (a === 0xffffffff) return true;
  for (const i of h.ifaces.values()) {
    for (const ad of i.addrs) if (ad.len < 31 && (ad.ip | ~maskOf(ad.len)) >>> 0 === a) return true;
  }
  return false;
}
