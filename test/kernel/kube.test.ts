// The compiled Service rules on the real kernel: every probe agrees with the model.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNode } from '../../src/kube/compile.ts';
import { PairedLab } from '../../src/conform/paired-lab.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import type { Probe } from '../../src/model/index.ts';
import { skipReason, kernelDescribe } from './env.ts';
import { sctpCluster } from '../helpers/clusters.ts';

const diffLine = (x: { step: string; diff: { field: string; model: unknown; kernel: unknown } }): string =>
  `${x.step}: ${x.diff.field} model=${JSON.stringify(x.diff.model)} kernel=${JSON.stringify(x.diff.kernel)}`;

const cluster = readCluster(readFileSync(new URL('../../suites/fixtures/services.json', import.meta.url), 'utf8'));

describe.skipIf(skipReason)(kernelDescribe('kernel: compiled Services'), () => {
  let lab: PairedLab;
  beforeAll(async () => {
    lab = await PairedLab.up(k8sNode());
    for (const node of ['node', 'node2']) {
      const r = await lab.apply(node, compileNode(cluster, { nodeName: node, clusterCIDR: '10.244.0.0/16' }));
      expect(r).toMatchObject({ kernelOk: true, modelOk: true });
    }
  });
  afterAll(async () => {
    await lab?.down();
  });

  const probes: [string, Probe, string][] = [
    ['ClusterIP from a pod', { from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 80 }, 'delivered'],
    ['ClusterIP from the node', { from: 'node', proto: 'tcp', dst: '10.96.0.100', dport: 80 }, 'delivered'],
    ['ClusterIP from the other node', { from: 'node2', proto: 'tcp', dst: '10.96.0.100', dport: 80 }, 'delivered'],
    ['no endpoints: refused', { from: 'client', proto: 'tcp', dst: '10.96.0.101', dport: 80 }, 'refused'],
    ['NodePort', { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 30080 }, 'delivered'],
    [
      'eTP=Local without a local endpoint',
      { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 30081 },
      'dropped',
    ],
    ['affinity', { from: 'client', proto: 'tcp', dst: '10.96.0.104', dport: 80 }, 'delivered'],
    ['affinity again', { from: 'client', proto: 'tcp', dst: '10.96.0.104', dport: 80 }, 'delivered'],
    [
      'LoadBalancer IP from an allowed source',
      { from: 'client', proto: 'tcp', dst: '203.0.113.10', dport: 80 },
      'delivered',
    ],
    ['LoadBalancer IP from another source', { from: 'node2', proto: 'tcp', dst: '203.0.113.10', dport: 80 }, 'dropped'],
    ['UDP Service', { from: 'pod1', proto: 'udp', dst: '10.96.0.10', dport: 53 }, 'delivered'],
    ['ping a ClusterIP', { from: 'pod1', proto: 'icmp', dst: '10.96.0.100' }, 'dropped'],
  ];
  test('an SCTP Service: the kernel and the model both load its rules', async () => {
    const sctp = sctpCluster();
    const r = await lab.apply('node2', compileNode(sctp, { nodeName: 'node2', clusterCIDR: '10.244.0.0/16' }));
    expect(r).toMatchObject({ kernelOk: true, modelOk: true });
    await lab.apply('node2', compileNode(cluster, { nodeName: 'node2', clusterCIDR: '10.244.0.0/16' }));
  });

  test('each probe: the kernel does what the model predicts', async () => {
    const problems: string[] = [];
    const responders: (string | null)[] = [];
    for (const [label, p, outcome] of probes) {
      const r = await lab.probe(p);
      if (r.verdict.diffs.length) problems.push(`${label}: ${JSON.stringify(r.verdict.diffs)}`);
      if (r.kernel.outcome !== outcome) problems.push(`${label}: kernel ${r.kernel.outcome}, expected ${outcome}`);
      responders.push(r.kernel.responder);
    }
    expect(problems).toEqual([]);
    expect(responders[6]).toBe(responders[7]); // session affinity held
  });
});

describe.skipIf(skipReason)(kernelDescribe('kernel: random Service sets (property)'), () => {
  test(
    'the Service oracle, the model over the compiled rules and the kernel agree (fixed seeds' + ' and one random seed)',
    async () => {
      const { fuzz } = await import('../../src/conform/fuzz.ts');
      const { LabPool } = await import('../../src/conform/run-case.ts');
      const pool = new LabPool({ timeoutMs: 150 });
      try {
        const random = Math.floor(Math.random() * 0x7fffffff);
        console.log(`random Service-property seed: ${random}`);
        for (const seed of [1, 2, random]) {
          const r = await fuzz({
            oracle: { kind: 'kernel', pool },
            kind: 'services',
            runs: 8,
            seed,
            shrinkSeconds: 30,
          });
          const d = r.divergence;
          expect(
            d
              ? `${d.diffs.map(diffLine).join('\n')}\nreplay: nfconform fuzz --services --replay ${d.seed}:${d.path}`
              : null,
          ).toBeNull();
        }
      } finally {
        await pool.close();
      }
    },
    300_000,
  );
});
