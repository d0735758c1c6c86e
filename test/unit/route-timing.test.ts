// Timing the model follows with bounds (spec/semantics.md §6.4, §6.5): ip_error's per-source bucket and the
// host-unreachable of a neighbour resolution that gives up. Exact where the bound decides, indeterminate
// (both results possible) where only elapsed time the model cannot know would.
import { test, expect } from 'vitest';
import { loadCase } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { routeErrorVerdict, spendRouteError, redirectVerdict, redirectCounted } from '../../src/model/route-errors.ts';
import { newHostState } from '../../src/model/eval/packet.ts';

/** each step's model results: per repetition, the outcome, or "a|b" for an indeterminate one */
async function outcomes(file: string): Promise<string[][]> {
  const [r] = await runCases([loadCase(file)], { sides: 'model' });
  return r!.steps.map((s) =>
    s.model.map((d) => {
      const o = d[0]!.value;
      return o.indeterminate ? o.indeterminate.outcomes.join('|') : `${o.outcome}${o.icmp ? ` ${o.icmp}` : ''}`;
    }),
  );
}

test('ip_error: five errors per source at once, then open; a wait earns one a second, five at most', () => {
  const s = newHostState();
  const sent: string[] = [];
  for (let i = 0; i < 7; i++) {
    const v = routeErrorVerdict(s, 1, 0);
    sent.push(v);
    spendRouteError(s, 1, 0, v === 'sent');
  }
  expect(sent).toEqual(['sent', 'sent', 'sent', 'sent', 'sent', 'open', 'open']);
  expect(routeErrorVerdict(s, 2, 0)).toBe('sent'); // another source, its own bucket
  expect(routeErrorVerdict(s, 1, 0.5)).toBe('open');
  expect(routeErrorVerdict(s, 1, 1)).toBe('sent');
  spendRouteError(s, 1, 1, true);
  expect(routeErrorVerdict(s, 1, 1)).toBe('open');
  // a long wait fills the bucket to its burst, not beyond
  const after = [0, 1, 2, 3, 4, 5].map(() => {
    const v = routeErrorVerdict(s, 1, 100);
    spendRouteError(s, 1, 100, v === 'sent');
    return v;
  });
  expect(after).toEqual(['sent', 'sent', 'sent', 'sent', 'sent', 'open']);
});

test('the regression case: the sixth routing error is open, a wait restores what it must', async () => {
  const o = await outcomes('suites/regressions/route-errors-past-the-burst.json');
  const na = 'icmp-error net-unreachable';
  expect(o).toEqual([
    [na, na, na, na, na],
    ['dropped|icmp-error', 'dropped|icmp-error'],
    [na],
    [],
    [na],
    [],
    [na, na, na, na, na],
  ]);
});

test('neighbour resolution: the first packet is a silent drop, a later one within it may hear the error', async () => {
  const o = await outcomes('suites/regressions/neighbour-failure-answers-later.json');
  expect(o).toEqual([['dropped'], [], ['dropped|icmp-error'], [], ['dropped']]);
});

test('ARP from 127.0.0.1: pod2 does not answer it, and a later SYN waits in the resolution', async () => {
  const o = await outcomes('suites/regressions/arp-from-loopback-source-unanswered.json');
  expect(o).toEqual([['dropped'], ['dropped|icmp-error|refused'], [], ['refused'], ['dropped']]);
});

test('ARP from 127.0.0.1: answered with route_localnet and accept_local, not with rp_filter=1', async () => {
  const o = await outcomes('suites/regressions/arp-from-loopback-source-answered.json');
  expect(o).toEqual([['dropped'], ['refused'], ['dropped'], ['dropped|icmp-error|refused']]);
});

test('ip_rt_send_redirect: the first redirect goes at once, the next after redirect_load << n, none past 9', () => {
  const s = newHostState();
  const src = 0x0af4010c;
  expect(redirectVerdict(s, src, 0)).toBe('sent');
  redirectCounted(s, src, 0, true);
  // 40 ms after the first: the model's clock cannot tell within a case
  expect(redirectVerdict(s, src, 0)).toBe('open');
  expect(redirectVerdict(s, src, 0.05)).toBe('sent');
  for (let i = 0; i < 8; i++) redirectCounted(s, src, 0, true);
  expect(s.redirects.get(src)?.n).toBe(9);
  expect(redirectVerdict(s, src, 10)).toBe('open');
  // after redirect_silence (~20.5 s) the count starts again
  expect(redirectVerdict(s, src, 21)).toBe('sent');
  redirectCounted(s, src, 21, true);
  expect(s.redirects.get(src)).toEqual({ n: 1, at: 21 });
});
