// The checks a received packet meets at the routing decision before any hook after PREROUTING
// (spec/semantics.md §3): martian addresses (ip_route_input_slow) and reverse-path filtering
// (fib_validate_source). Each returns why the packet is dropped, or undefined.
import { type U32, formatIp, isLoopback } from '../ip.ts';
import { confOf, type Host } from './topology.ts';
import { lookupRoute } from './routing.ts';

export function martian(h: Host, inIf: string, src: U32, dst: U32): string | undefined {
  if (inIf === 'lo') return undefined;
  const conf = confOf(h, inIf);
  // ip_route_input_slow: 127/8 as source or destination only with route_localnet on the input device
  if (isLoopback(src) && !conf.route_localnet) return `martian source ${formatIp(src)} on ${inIf} (route_localnet=0)`;
  if (isLoopback(dst) && !conf.route_localnet)
    return `martian destination ${formatIp(dst)} on ${inIf} (route_localnet=0)`;
  // fib_validate_source: one of the host's own addresses (127.0.0.1 on lo too) only with accept_local
  if (h.local.has(src) && !conf.accept_local)
    return `martian source ${formatIp(src)}: a local address arriving on ${inIf} (accept_local=0)`;
  return undefined;
}

/** rp_filter (of the input interface) =1: the route back to the source must leave by the interface the packet came in
 * on; 2: any route. A local route back (an own address, 127/8) needs accept_local, and for =1 to be the interface's
 * own (__fib_validate_source: RTN_LOCAL without accept_local is -EINVAL; a local route's device is its own). */
export function reversePath(h: Host, inIf: string, src: U32): string | undefined {
  const conf = confOf(h, inIf);
  const rp = conf.rp_filter;
  if (inIf === 'lo' || rp === 0) return undefined;
  const back = lookupRoute(h, src);
  const usable = back.type === 'unicast' || (back.type === 'local' && conf.accept_local);
  const ok = usable && (rp === 2 || back.dev === inIf);
  return ok ? undefined : `rp_filter=${rp}: no route back to ${formatIp(src)} via ${inIf}`;
}
