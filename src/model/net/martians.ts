// The checks a received packet meets at the routing decision before any hook after PREROUTING
// (spec/semantics.md §3): martian addresses (ip_route_input_slow) and reverse-path filtering
// (fib_validate_source). Each returns why the packet is dropped, or undefined.
import { type U32, formatIp, isLoopback } from '../ip.ts';
import { confOf, type Host } from './topology.ts';
import { lookupRoute } from './routing.ts';

export function martian(h: Host, inIf: string, src: U32, dst: U32): string | undefined {
  if (inIf === 'lo') return undefined;
  const conf = confOf(h, inIf);
  if (h.local.has(src) && !conf.accept_local)
    return `martian source ${formatIp(src)}: a local address arriving on ${inIf} (accept_local=0)`;
  if (isLoopback(src)) return `martian source ${formatIp(src)} on ${inIf}`;
  if (isLoopback(dst) && !conf.route_localnet)
    return `martian destination ${formatIp(dst)} on ${inIf} (route_localnet=0)`;
  return undefined;
}

/** rp_filter (of the input interface) =1: the route back to the source must leave by the interface the packet came in
 * on; 2: any route. */
export function reversePath(h: Host, inIf: string, src: U32): string | undefined {
  const rp = confOf(h, inIf).rp_filter;
  if (inIf === 'lo' || rp === 0) return undefined;
  const back = lookupRoute(h, src);
  const ok = rp === 2 ? back.type !== 'unreachable' : back.type === 'unicast' && back.dev === inIf;
  return ok ? undefined : `rp_filter=${rp}: no route back to ${formatIp(src)} via ${inIf}`;
}
