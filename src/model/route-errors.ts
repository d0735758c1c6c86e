// ip_error's per-source token bucket (net/ipv4/route.c ip_error, spec/semantics.md §6.4): a forwarded packet
// that meets no route spends `ip_rt_error_cost` (HZ) of its source's inet_peer tokens before icmp_send; a
// bucket holds at most `ip_rt_error_burst` (5 HZ) and earns one jiffy a jiffy. A new peer starts full
// (inet_getpeer: rate_last = jiffies - 60 HZ), and the lab refills the buckets between cases (kernel-lab.ts
// reset), so a case starts with five errors to spend per host (the peers are per namespace) and source.
// The model's clock moves only with `wait` steps: it keeps a lower bound of each bucket, and an error the
// bound does not cover rests on time it cannot know (probes take milliseconds, a timeout most of a second).
import type { U32 } from './ip.ts';
import type { HostState } from './eval/packet.ts';

/** ip_rt_error_cost and ip_rt_error_burst in milliseconds (HZ = 1 s; global sysctls, defaults) */
export const ROUTE_ERROR_COST_MS = 1000;
export const ROUTE_ERROR_BURST_MS = 5 * ROUTE_ERROR_COST_MS;

/** What ip_error's bucket says of one more routing error: sent, or open (time decides). */
export type RouteErrorVerdict = 'sent' | 'open';

/** The bucket of `src` on a host at world time `now` (seconds): the lower bound of its tokens, refilled. */
function bucketAt(state: HostState, src: U32, now: number): number {
  const b = state.routeErrors.get(src);
  if (!b) return ROUTE_ERROR_BURST_MS;
  return Math.min(ROUTE_ERROR_BURST_MS, b.low + Math.max(0, now - b.at) * 1000);
}

/** Would ip_error send an error to `src` now? 'open' when only elapsed time the model cannot bound would. */
export function routeErrorVerdict(state: HostState, src: U32, now: number): RouteErrorVerdict {
  return bucketAt(state, src, now) >= ROUTE_ERROR_COST_MS ? 'sent' : 'open';
}

/** One routing error met the bucket: `sent` spends a cost (the bound goes down by it, never below 0: a sent
 *  error had at least the cost); a withheld one leaves what it had, which is less than the cost. */
export function spendRouteError(state: HostState, src: U32, now: number, sent: boolean): void {
  const low = bucketAt(state, src, now);
  state.routeErrors.set(src, { low: sent ? Math.max(0, low - ROUTE_ERROR_COST_MS) : low, at: now });
}

/** ip_rt_redirect_load (HZ/50), ip_rt_redirect_number and ip_rt_redirect_silence (load << (number + 1)), in
 *  seconds: global sysctls (net.ipv4.route.redirect_*), defaults */
export const REDIRECT_LOAD_S = 0.02;
export const REDIRECT_NUMBER = 9;
export const REDIRECT_SILENCE_S = REDIRECT_LOAD_S * 2 ** (REDIRECT_NUMBER + 1);

/** Does ip_rt_send_redirect send this redirect: 'sent', 'withheld', or 'open' (time the model cannot bound)?
 *  After redirect_silence without one the count starts again; past redirect_number nothing is sent; else the
 *  n-th waits redirect_load << n after the last. The model's clock is a lower bound of the time gone by. */
export function redirectVerdict(state: HostState, src: U32, now: number): 'sent' | 'withheld' | 'open' {
  const r = state.redirects.get(src);
  if (!r || now - r.at > REDIRECT_SILENCE_S) return 'sent';
  if (r.n < REDIRECT_NUMBER && now - r.at > REDIRECT_LOAD_S * 2 ** r.n) return 'sent';
  return 'open';
}

/** The count after a redirect was sent or withheld (rate_last moves on a send, and on a withheld one past
 *  redirect_number; a sent one after a silence starts the count again). */
export function redirectCounted(state: HostState, src: U32, now: number, sent: boolean): void {
  const r = state.redirects.get(src);
  const fresh = !r || now - r.at > REDIRECT_SILENCE_S;
  if (sent) state.redirects.set(src, { n: (fresh ? 0 : r.n) + 1, at: now });
  else if (r && r.n >= REDIRECT_NUMBER) state.redirects.set(src, { n: r.n, at: now });
}

/**
 * ip_rt_send_redirect (net/ipv4/route.c) counts redirects in the same inet_peer as ip_error's bucket: after
 * ip_rt_redirect_silence (about 20 s) without one it sets rate_tokens to 0, and a redirect it sends (or withholds
 * past ip_rt_redirect_number) moves rate_last to now. ip_forward asks for one before the FORWARD hook, whatever
 * the hook then does. The model keeps a lower bound of the bucket: after a redirect, that bound is 0.
 */
export function redirectMet(state: HostState, src: U32, now: number): void {
  state.routeErrors.set(src, { low: 0, at: now });
}
