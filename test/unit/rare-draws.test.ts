// The rare draws (issue 14 §4, rare-arbitraries.ts): what earlier campaigns never exercised must be drawn, load on
// the model, and be counted by the coverage under the spelling it was written in.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { caseDrawArb, caseFromDraw } from '../../src/conform/fuzz-arbitraries.ts';
import {
  rareArb,
  rareNodeRules,
  withRareSteps,
  routeVariant,
  LOOP_DST,
  RARE_RECENT_LIST,
} from '../../src/conform/rare-arbitraries.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { checkCase, caseTopology } from '../../src/conform/case-file.ts';
import { planCase } from '../../src/conform/plan.ts';
import { CoverageCounter } from '../../src/conform/coverage.ts';
import type { Step } from '../../src/conform/case-file.ts';
import { k8sNode } from '../../src/model/index.ts';

test('rare rules load on the model in both flavors, alone and with the steps they bring', async () => {
  const draws = fc.sample(caseDrawArb({ quietLog: true }), { seed: 11, numRuns: 200 });
  let rare = 0;
  for (const d of draws) {
    if (!d.rare) continue;
    rare++;
    // the rare part alone: the reach recipes may be refused on purpose
    const c = caseFromDraw({ ...d, reach: undefined, corners: undefined, rules: [], otherRules: [] });
    checkCase(JSON.parse(JSON.stringify(c)), 'rare.json');
    const plan = await planCase(c);
    const refused = [...plan.rulesets, ...plan.otherRulesets].find((r) => r.refusal);
    expect(refused?.refusal?.message, refused?.text).toBeUndefined();
  }
  expect(rare).toBeGreaterThan(draws.length / 5);
});

test('LOG and TRACE are drawn only when the kernel log stays quiet', () => {
  const kinds = (quietLog: boolean) =>
    new Set(
      fc
        .sample(rareArb({ quietLog }), { seed: 3, numRuns: 400 })
        .flatMap((d) => [...d.rules, ...d.steps.flatMap((s) => ('rule' in s.step ? [s.step.rule] : []))])
        .map((r) => r.kind),
    );
  expect(kinds(false).has('log')).toBe(false);
  expect(kinds(false).has('trace')).toBe(false);
  expect(kinds(true).has('log')).toBe(true);
  expect(kinds(true).has('trace')).toBe(true);
});

test('a recent write comes with the rules that name its list; each step is followed by its probe again', () => {
  const d = fc.sample(rareArb(), { seed: 5, numRuns: 50 })[0]!;
  const draw = { ...d, rules: [], steps: [{ at: 0, step: { k: 'recent' as const, op: 'add' as const, addr: 0 } }] };
  expect(rareNodeRules(draw).some((r) => r.spec.includes(`--name ${RARE_RECENT_LIST} --set`))).toBe(true);
  const probe: Step = { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080, repeat: 3 };
  const steps = withRareSteps([probe], draw);
  expect(steps).toEqual([
    probe,
    { iptables: { node: [`-A OUTPUT -m recent --name ${RARE_RECENT_LIST} --rcheck`] } },
    { recent: { host: 'node', list: RARE_RECENT_LIST, add: '192.168.50.20' } },
    { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 },
  ]);
});

test('a sample campaign of draws reaches every spelling and step the README listed at zero', () => {
  const c = new CoverageCounter();
  for (const d of fc.sample(caseDrawArb({ quietLog: true }), { seed: 20261201, numRuns: 600 }))
    c.record(caseFromDraw(d), []);
  const r = c.report();
  const was = [
    'tcp --syn',
    'sctp --sport',
    'sctp --dport',
    'comment --comment',
    'nfacct --nfacct-name',
    'recent --rttl',
    ...['MARK', 'CONNMARK'].flatMap((t) =>
      ['--set-mark', '--or-mark', '--and-mark', '--xor-mark'].map((o) => `${t} ${o}`),
    ),
    'CT --zone',
    'CT --zone-orig',
    'CT --zone-reply',
    'NFLOG --nflog-group',
    'LOG --log-prefix',
    ...['size', 'max', 'gcinterval', 'expire'].map((o) => `hashlimit --hashlimit-htable-${o}`),
    'time --utc',
  ];
  for (const o of was) expect(r.zero.option, o).not.toContain(o);
  for (const t of ['LOG', 'NFLOG', 'TRACE']) expect(r.zero.target).not.toContain(t);
  expect(r.zero.sysctl).toEqual([]);
  for (const s of ['apply', 'wait', 'recent', ...['-A', '-N', '-F', '-X', '-P'].map((x) => `iptables ${x}`)])
    expect(r.zero.step, s).not.toContain(s);
  expect(r.zero.topology).not.toContain('hairpin veth-pod3 on');
  expect(r.zero.topology).not.toContain('no default route on node');
  expect(r.zero.topology).not.toContain('no default route on node2');
  expect(r.zero.topology).not.toContain('routing loop');
  expect(r.zero.topology).not.toContain('on-link route to a node address on client');
  // a stored spelling counts as written, not as the option it is stored under
  expect(r.counts.option['MARK --or-mark']).toBeGreaterThan(0);
});

const LOOP_TEST = 'the routing-loop variant loops the Service address between the nodes; the model ends it by the TTL';
test(LOOP_TEST, async () => {
  const d = fc.sample(rareArb(), { seed: 7, numRuns: 1 })[0]!;
  const spec = routeVariant({ ...d, noDefaultRoute: undefined, routingLoop: true, onlinkClient: false })!;
  const node = spec.hosts.find((h) => h.name === 'node')!;
  expect(node.routes?.[0]).toEqual({ dst: `${LOOP_DST}/32`, via: '10.0.2.11' });
  expect(routeVariant({ ...d, noDefaultRoute: undefined, routingLoop: false, onlinkClient: false })).toBeUndefined();
  // ip_forward's time exceeded, from the router that sees TTL 1: node2 for the client (node sees even TTLs)
  const c = {
    name: 'loop',
    topology: spec,
    steps: [{ from: 'client', proto: 'udp' as const, dst: LOOP_DST, dport: 80 }],
  };
  const [r] = await runCases([c], { sides: 'model' });
  const obs = r!.steps[0]!.model[0]!.map((w) => w.value);
  expect(obs.map((o) => [o.outcome, o.icmp, o.replyFrom])).toEqual([['icmp-error', 'time-exceeded', '10.0.2.11']]);
  const counter = new CoverageCounter();
  counter.record(c, []);
  expect(counter.report().counts.topology['routing loop']).toBe(1);
  // the preset is no loop: the node's default gateway, the client, does not forward
  const plain = new CoverageCounter();
  plain.record({ ...c, topology: k8sNode() }, []);
  expect(plain.report().counts.topology['routing loop'] ?? 0).toBe(0);
});

const ONLINK_TEST = "the on-link variant: the client asks for the node's bridge address on eth0; arp_ignore decides";
test(ONLINK_TEST, async () => {
  const d = fc.sample(rareArb(), { seed: 7, numRuns: 1 })[0]!;
  const spec = routeVariant({ ...d, noDefaultRoute: undefined, routingLoop: false, onlinkClient: true })!;
  const client = spec.hosts.find((h) => h.name === 'client')!;
  expect(client.routes?.[0]).toEqual({ dst: '10.244.1.1/32', dev: 'eth0' });
  const outcome = async (eth0: object, all: object = {}) => {
    const c = {
      name: 'onlink',
      topology: spec,
      hosts: { node: { sysctls: all, ifaceSysctls: { eth0 } } },
      steps: [{ from: 'client', proto: 'icmp' as const, dst: '10.244.1.1' }],
    };
    const [r] = await runCases([c], { sides: 'model' });
    return r!.steps[0]!.model[0]!.map((w) => w.value.outcome);
  };
  // conf.all 0: eth0's own arp_ignore decides; conf.all 1 holds whatever eth0's own is
  expect(await outcome({})).toEqual(['echo-reply']);
  expect(await outcome({ arp_ignore: 1 })).toEqual(['dropped']);
  expect(await outcome({ arp_ignore: 0 }, { arp_ignore: 1 })).toEqual(['dropped']);
  expect(await outcome({ arp_filter: true })).toEqual(['echo-reply']);
  const counter = new CoverageCounter();
  counter.record({ name: 'x', topology: spec, steps: [] }, []);
  expect(counter.report().counts.topology['on-link route to a node address on client']).toBe(1);
  // a case with the variant ends with its probe, so that the on-link request is always asked
  const draw = fc
    .sample(caseDrawArb(), { seed: 3, numRuns: 400 })
    .find((x) => x.rare?.onlinkClient && x.corners?.sysctls.arpIface);
  expect(draw).toBeDefined();
  const c = caseFromDraw(draw!);
  expect(c.steps.at(-1)).toEqual({ from: 'client', proto: 'icmp', dst: '10.244.1.1' });
  expect(caseTopology(c).hosts.find((h) => h.name === 'client')!.routes?.[0]).toEqual(client.routes?.[0]);
});
