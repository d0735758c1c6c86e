// The Service compiler, judged by behaviour: its rules, run on the model, do what Kubernetes says.
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNode, hashName } from '../../src/kube/compile.ts';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { InputError } from '../../src/model/errors.ts';
import { labOf, obs, probe } from '../helpers/model.ts';
import { runProbe } from '../../src/model/probe.ts';
import { newWorld } from '../../src/model/lab-model.ts';
import { sctpCluster } from '../helpers/clusters.ts';

const fixture = readFileSync(new URL('../../suites/fixtures/services.json', import.meta.url), 'utf8');
const cluster = readCluster(fixture, 'services.json');
const rules = compileNode(cluster, { nodeName: 'node', clusterCIDR: '10.244.0.0/16' });
const lab = labOf({ node: rules });

describe('kube objects', () => {
  test('reads Services and EndpointSlices of a kubectl List', () => {
    expect(cluster.services.map((s) => s.name)).toEqual([
      'web',
      'empty',
      'np',
      'local',
      'sticky',
      'lb',
      'headless',
      'ext',
      'dns',
      'itl',
      'extip',
      'lb2',
      'sticky2',
    ]);
    expect(cluster.services.find((s) => s.name === 'headless')!.clusterIP).toBeUndefined();
    expect(cluster.services.find((s) => s.name === 'lb')!.loadBalancerIPs).toEqual(['203.0.113.10']);
  });
  test('an invalid object is named with its field', () => {
    const bad = JSON.stringify({
      kind: 'List',
      items: [
        {
          kind: 'Service',
          metadata: { namespace: 'ns', name: 'x' },
          spec: { clusterIP: '10.96.0.1', ports: [{ port: 70000 }] },
        },
      ],
    });
    expect(() => readCluster(bad, 'svc.json', { strict: true })).toThrow(InputError);
    expect(() => readCluster(bad, 'svc.json', { strict: true })).toThrow(
      'svc.json:1:133: Service ns/x (items[0]): spec.ports[0].port: must be a port 1-65535, not 70000',
    );
    // without strict, the object is skipped with a warning that names it and its field
    const read = readCluster(bad, 'svc.json');
    expect(read.services).toEqual([]);
    expect(read.warnings).toEqual([
      {
        object: 'Service ns/x (items[0])',
        field: 'spec.ports[0].port',
        reason: 'must be a port 1-65535, not 70000',
        skipped: true,
      },
    ]);
  });
});

describe('the compiled ruleset', () => {
  test('is valid for the kernel (the model validator) and chain names stay within 28 characters', () => {
    expect(() => parseRuleset(rules, { backend: 'nft' })).not.toThrow();
    expect(() => parseRuleset(rules, { backend: 'legacy' })).not.toThrow();
    expect(hashName('KUBE-SVC-', 'default/web:http', 'tcp')).toMatch(/^KUBE-SVC-[A-Z2-7]{16}$/);
    for (const m of rules.matchAll(/^:(\S+)/gm)) expect(m[1]!.length).toBeLessThanOrEqual(28);
  });
  test('headless and ExternalName Services produce no rules', () => {
    const only = readCluster(
      JSON.stringify({
        kind: 'List',
        items: JSON.parse(fixture).items.filter((i: { metadata: { name: string } }) =>
          ['headless', 'ext'].includes(i.metadata.name),
        ),
      }),
    );
    const r = compileNode(only, { nodeName: 'node', clusterCIDR: '10.244.0.0/16' });
    expect(r).not.toMatch(/KUBE-SVC-|KUBE-SEP-|DNAT|REJECT/);
  });
  test('a ClusterIP load-balances 1/2 : 1/2, the pod keeps its source', () => {
    const res = probe(lab, { from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 80 });
    expect(res.map((r) => [r.p, r.value.observation.responder, r.value.observation.seen?.src]).sort()).toEqual([
      [0.5, 'pod1', '10.244.1.12:40000'],
      [0.5, 'pod3', '10.244.1.12:40000'],
    ]);
  });
  test('no endpoints: REJECT, refused', () => {
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '10.96.0.101', dport: 80 }).outcome).toBe('refused');
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '10.96.0.101', dport: 80 }).outcome).toBe('refused');
  });
  test('NodePort on the node address, masqueraded', () => {
    const o = obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 30080 });
    expect(o).toMatchObject({ outcome: 'delivered', responder: 'pod2' });
    expect(o.seen?.src).toMatch(/^10\.244\.1\.1:/);
  });
  test('externalTrafficPolicy=Local without a local endpoint drops NodePort traffic; the ClusterIP still works', () => {
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 30081 }).outcome).toBe('dropped');
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '10.96.0.103', dport: 80 }).responder).toBe('pod3');
  });
  test('ClientIP affinity sticks to the first choice', () => {
    const first = runProbe(lab, newWorld(lab), {
      from: 'client',
      proto: 'tcp',
      dst: '10.96.0.104',
      dport: 80,
      sport: 41000,
    });
    expect(first.map((b) => b.value.observation.responder).sort()).toEqual(['pod1', 'pod2']);
    for (const branch of first) {
      const again = runProbe(lab, branch.value.world, {
        from: 'client',
        proto: 'tcp',
        dst: '10.96.0.104',
        dport: 80,
        sport: 41001,
      });
      expect(again.map((r) => r.value.observation.responder)).toEqual([branch.value.observation.responder]);
    }
  });
  test('a LoadBalancer IP with source ranges admits them and drops others; UDP Services work', () => {
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '203.0.113.10', dport: 80 })).toMatchObject({
      outcome: 'delivered',
      responder: 'pod2',
    });
    expect(obs(lab, { from: 'node2', proto: 'tcp', dst: '203.0.113.10', dport: 80 }).outcome).toBe('dropped');
    expect(obs(lab, { from: 'pod1', proto: 'udp', dst: '10.96.0.10', dport: 53 })).toMatchObject({
      outcome: 'delivered',
      responder: 'pod2',
    });
  });
});

test('ClientIP affinity expires after its timeout: the choice is random again', () => {
  const first = runProbe(lab, newWorld(lab), {
    from: 'client',
    proto: 'tcp',
    dst: '10.96.0.109',
    dport: 80,
    sport: 41000,
  });
  for (const branch of first) {
    const soon = runProbe(
      lab,
      { ...branch.value.world, now: branch.value.world.now + 1 },
      { from: 'client', proto: 'tcp', dst: '10.96.0.109', dport: 80, sport: 41001 },
    );
    expect(soon).toHaveLength(1);
    const later = runProbe(
      lab,
      { ...branch.value.world, now: branch.value.world.now + 3 },
      { from: 'client', proto: 'tcp', dst: '10.96.0.109', dport: 80, sport: 41002 },
    );
    expect(later.map((r) => r.value.observation.responder).sort()).toEqual(['pod1', 'pod2']);
  }
});

test('an SCTP Service compiles to rules the model loads (sctp port match)', () => {
  const sctp = sctpCluster();
  const text = compileNode(sctp, { nodeName: 'node', clusterCIDR: '10.244.0.0/16' });
  expect(text).toContain('-d 10.96.0.50/32 -p sctp');
  expect(() => parseRuleset(text)).not.toThrow();
});
