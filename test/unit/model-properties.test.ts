import { test, expect } from 'vitest';
import fc from 'fast-check';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { compileTopology } from '../../src/model/net/topology.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import { makeLab, newWorld } from '../../src/model/lab-model.ts';
import { runProbe } from '../../src/model/probe.ts';
import { InputError } from '../../src/model/errors.ts';
import { rulesetText } from '../../src/conform/arbitraries.ts';
import { probeArb } from '../../src/conform/probe-arbitraries.ts';
import { assertProperty } from '../helpers/property.ts';
import { kubeProxyNat } from '../helpers/model.ts';

const net = compileTopology(k8sNode());

function labFor(text: string) {
  try {
    return makeLab(net, new Map([['node', parseRuleset(text)]]));
  } catch (e) {
    if (e instanceof InputError) return undefined;
    throw e;
  }
}

test('a trace is deterministic: the same probe on the same world gives the same results and traces', () => {
  assertProperty(
    fc.property(rulesetText(), probeArb(), (text, p) => {
      const lab = labFor(text);
      if (!lab) return;
      const w = newWorld(lab);
      const a = runProbe(lab, w, p);
      const b = runProbe(lab, w, p);
      expect(b.map((r) => [r.p, r.value.observation, r.value.trace])).toEqual(
        a.map((r) => [r.p, r.value.observation, r.value.trace]),
      );
    }),
    { numRuns: 150 },
  );
});

test('distribution probabilities sum to 1 (random rulesets and kube-proxy-shaped load balancing)', () => {
  const eps = fc.subarray(['10.244.1.11', '10.244.1.12', '10.244.2.13'], { minLength: 1 });
  const text = fc.oneof(
    rulesetText(),
    eps.map((endpoints) => kubeProxyNat({ vip: '10.96.0.100', port: 80, endpoints, targetPort: 8080 })),
  );
  assertProperty(
    fc.property(text, probeArb(), (t, p) => {
      const lab = labFor(t);
      if (!lab) return;
      const res = runProbe(lab, newWorld(lab), p);
      const sum = res.reduce((s, r) => s + r.p, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
      for (const r of res) expect(r.p).toBeGreaterThan(0);
    }),
    { numRuns: 200 },
  );
});

test('the model never throws anything but InputError on generated rulesets and probes', () => {
  assertProperty(
    fc.property(rulesetText(), probeArb(), (t, p) => {
      const lab = labFor(t);
      if (!lab) return;
      try {
        runProbe(lab, newWorld(lab), p);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
      }
    }),
    { numRuns: 200 },
  );
});

test('unknown rules asked by every packet of a connection: an open result past the bound, not an error', () => {
  // connlimit is not decided by the model; jumped to twice from raw PREROUTING, it is asked twice per packet,
  // and the TCP exchange doubles the branches past the bound (seed 2106089861)
  const lab = labFor(
    '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:CHAIN-0 - [0:0]\n-A PREROUTING -j CHAIN-0\n' +
      '-A PREROUTING -j CHAIN-0\n-A CHAIN-0 -m connlimit --connlimit-upto 1 -j NOTRACK\nCOMMIT\n',
  )!;
  const probe = { from: 'pod1', proto: 'tcp', dst: '192.168.50.20', dport: 9090 } as const;
  const r = runProbe(lab, newWorld(lab), probe, { maxBranches: 64 });
  expect(r).toHaveLength(1);
  expect(r[0]!.value.observation.outcome).toBe('indeterminate');
  expect(r[0]!.value.observation.indeterminate?.open).toBe(true);
  expect(r[0]!.value.observation.indeterminate?.decidedBy[0]?.spec).toContain('connlimit');
});

test('an unknown match asked by every packet ends open at the unknown bound (256 branches), not at 4096', () => {
  // the MAC source is not modelled; found by the same property as a 6-second probe (seed 720989206)
  const lab = labFor(
    '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n' +
      '-A PREROUTING -m mac --mac-source 00:00:00:00:00:00 -m rpfilter -j ACCEPT\nCOMMIT\n',
  )!;
  let branches = 0;
  const r = runProbe(
    lab,
    newWorld(lab),
    { from: 'client', proto: 'tcp', dst: '10.244.2.1', dport: 9090 },
    {
      maxBranches: 100_000,
      onBranch: () => branches++,
    },
  );
  expect(r.map((x) => x.value.observation.indeterminate?.open)).toEqual([true]);
  expect(branches).toBe(256);
});
