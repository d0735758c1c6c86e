// Issue 3 §6: behaviours shown on the real kernel, each checked to be what the model predicts.
import { describe, test, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { PairedLab, type PairedProbe } from '../../src/conform/paired-lab.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import { kubeProxyNat } from '../helpers/model.ts';
import { skipReason, kernelDescribe } from './env.ts';

function agreed(r: PairedProbe): PairedProbe {
  expect(
    r.verdict.diffs,
    `model and kernel disagree on ${JSON.stringify(r.probe)}: kernel ${JSON.stringify(r.kernel)}`,
  ).toEqual([]);
  expect(r.verdict.matched).toBeDefined();
  return r;
}

const svc = (endpoints: string[], proto = 'tcp') =>
  kubeProxyNat({ vip: '10.96.0.100', port: 80, endpoints, targetPort: 8080, proto });

describe.skipIf(skipReason)(kernelDescribe('kernel: ClusterIP, NodePort, REJECT, conntrack'), () => {
  let lab: PairedLab;
  beforeAll(async () => {
    lab = await PairedLab.up(k8sNode());
  });
  afterAll(async () => {
    await lab?.down();
  });
  beforeEach(async () => {
    await lab.reset();
  });

  test('a ClusterIP DNATs from a pod (PREROUTING), from the node itself (OUTPUT) and from the client', async () => {
    expect((await lab.apply('node', svc(['10.244.1.11', '10.244.2.13']))).kernelOk).toBe(true);
    for (const from of ['pod2', 'node', 'client']) {
      for (let i = 0; i < 4; i++) {
        const r = agreed(await lab.probe({ from, proto: 'tcp', dst: '10.96.0.100', dport: 80 }));
        expect(['pod1', 'pod3']).toContain(r.kernel.responder);
      }
    }
  });

  test('repeated probes give the observed distribution over a statistic rule', async () => {
    await lab.apply('node', svc(['10.244.1.11', '10.244.2.13']));
    const counts = await lab.kernel.distribution({ from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80 }, 40);
    expect([...counts.keys()].sort()).toEqual(['delivered pod1', 'delivered pod3']);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(40);
  });

  test('a ClusterIP does not answer ping (C20)', async () => {
    await lab.apply('node', svc(['10.244.1.11']));
    const r = agreed(await lab.probe({ from: 'pod2', proto: 'icmp', dst: '10.96.0.100' }));
    expect(r.kernel.outcome).toBe('dropped');
    // while the Service port answers
    agreed(await lab.probe({ from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 80 }));
  });

  test('DNAT in nat OUTPUT only: node processes are affected, pods are not (C10)', async () => {
    await lab.apply('node', '*nat\n-A OUTPUT -d 10.96.0.100/32 -j DNAT --to-destination 10.244.1.11\nCOMMIT\n');
    expect(
      agreed(await lab.probe({ from: 'node', proto: 'tcp', dst: '10.96.0.100', dport: 8080 })).kernel.responder,
    ).toBe('pod1');
    expect(
      agreed(await lab.probe({ from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 8080 })).kernel.outcome,
    ).toBe('dropped');
  });

  test('a NodePort reached from the client on the node address', async () => {
    const text = svc(['10.244.1.12']).replace(
      'COMMIT',
      [
        ':KUBE-NODEPORTS - [0:0]',
        '-A KUBE-NODEPORTS -p tcp -m tcp --dport 30080 -j KUBE-MARK-MASQ',
        '-A KUBE-NODEPORTS -p tcp -m tcp --dport 30080 -j KUBE-SVC-X',
        '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
        'COMMIT',
      ].join('\n'),
    );
    expect((await lab.apply('node', text)).kernelOk).toBe(true);
    const r = agreed(await lab.probe({ from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 30080 }));
    expect(r.kernel.responder).toBe('pod2');
    expect(r.kernel.seen?.src).toMatch(/^10\.244\.1\.1:/);
  });

  test('a Service without endpoints: REJECT refuses at once, it does not time out', async () => {
    await lab.apply(
      'node',
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':KUBE-SERVICES - [0:0]',
        '-A INPUT -m conntrack --ctstate NEW -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -j KUBE-SERVICES',
        '-A OUTPUT -m conntrack --ctstate NEW -j KUBE-SERVICES',
        '-A KUBE-SERVICES -d 10.96.0.100/32 -p tcp -m comment --comment "default/empty has no' +
          ' endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
        'COMMIT',
        '',
      ].join('\n'),
    );
    for (const from of ['pod1', 'client', 'node']) {
      const t = performance.now();
      const r = agreed(await lab.probe({ from, proto: 'tcp', dst: '10.96.0.100', dport: 80 }));
      expect(r.kernel.outcome).toBe('refused');
      expect(performance.now() - t).toBeLessThan(lab.kernel.timeoutMs);
    }
  });

  test('conntrack keeps an established UDP flow on its old endpoint after the DNAT rule changes', async () => {
    await lab.apply('node', svc(['10.244.1.11'], 'udp'));
    const first = agreed(await lab.probe({ from: 'pod2', proto: 'udp', dst: '10.96.0.100', dport: 80, sport: 45000 }));
    expect(first.kernel.responder).toBe('pod1');
    await lab.apply('node', svc(['10.244.2.13'], 'udp'));
    const same = agreed(await lab.probe({ from: 'pod2', proto: 'udp', dst: '10.96.0.100', dport: 80, sport: 45000 }));
    expect(same.kernel.responder).toBe('pod1');
    const fresh = agreed(await lab.probe({ from: 'pod2', proto: 'udp', dst: '10.96.0.100', dport: 80, sport: 45001 }));
    expect(fresh.kernel.responder).toBe('pod3');
  });

  test('a ruleset the kernel refuses is refused by the model too (C13: DNAT in POSTROUTING)', async () => {
    const r = await lab.apply(
      'node',
      '*nat\n-A POSTROUTING -d 10.96.0.100/32 -j DNAT --to-destination 10.244.1.11\nCOMMIT\n',
    );
    expect(r.kernelOk).toBe(false);
    expect(r.modelOk).toBe(false);
    expect(r.kernelError).toMatch(/POSTROUTING|Invalid argument|line/);
  });
});

describe.skipIf(skipReason)(kernelDescribe('kernel: hairpin through a ClusterIP (C21)'), () => {
  for (const hairpin of [false, true]) {
    const what = hairpin
      ? 'on, with MASQUERADE: works, the pod sees the bridge address'
      : 'off: the SYN is dropped by the bridge';
    test(`bridge port hairpin ${what}`, async () => {
      const spec = k8sNode();
      for (const i of spec.hosts.find((h) => h.name === 'node')!.ifaces)
        if (i.name === 'veth-pod1') i.hairpin = hairpin;
      const lab = await PairedLab.up(spec);
      try {
        await lab.apply('node', svc(['10.244.1.11']));
        const r = agreed(await lab.probe({ from: 'pod1', proto: 'tcp', dst: '10.96.0.100', dport: 80 }));
        if (hairpin) {
          expect(r.kernel.outcome).toBe('delivered');
          expect(r.kernel.seen?.src).toMatch(/^10\.244\.1\.1:\d+$/);
        } else {
          expect(r.kernel.outcome).toBe('dropped');
        }
      } finally {
        await lab.down();
      }
    });
  }
});
