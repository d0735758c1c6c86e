// The seed's claims C2-C13 (../shared/seed/CLAIMS.md) as model tests on the k8s-node lab.
import { describe, test, expect } from 'vitest';
import { labOf, obs, only, hooksOn, kubeProxyNat, probe } from '../helpers/model.ts';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { k8sNode } from '../../src/model/net/presets.ts';

const filter = (rules: string, policy = 'ACCEPT') =>
  `*filter\n:INPUT ${policy} [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}\nCOMMIT\n`;

describe('hook paths', () => {
  const lab = labOf({ node: filter('') });
  test('C2: outside -> local application: PREROUTING -> INPUT', () => {
    const run = only(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 });
    expect(hooksOn(run, 'node')).toEqual(['PREROUTING', 'INPUT']);
    expect(run.observation).toMatchObject({ outcome: 'delivered', responder: 'node' });
  });
  test('C3: local application -> outside: OUTPUT -> POSTROUTING', () => {
    const run = only(lab, { from: 'node', proto: 'tcp', dst: '192.168.50.20', dport: 8080 });
    expect(hooksOn(run, 'node')).toEqual(['OUTPUT', 'POSTROUTING']);
    expect(run.observation.responder).toBe('client');
  });
  test('C4: pod -> outside and pod -> pod on the same node: PREROUTING -> FORWARD -> POSTROUTING', () => {
    expect(hooksOn(only(lab, { from: 'pod1', proto: 'tcp', dst: '192.168.50.20', dport: 8080 }), 'node')).toEqual([
      'PREROUTING',
      'FORWARD',
      'POSTROUTING',
    ]);
    const sameNode = only(lab, { from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080 });
    expect(hooksOn(sameNode, 'node')).toEqual(['PREROUTING', 'FORWARD', 'POSTROUTING']);
    expect(sameNode.observation.responder).toBe('pod2');
  });
  test(
    'C5: a non-local destination is forwarded only with ip_forward=1; the seed misses that' +
      ' bridged pod-to-pod traffic does not need it',
    () => {
      const topo = k8sNode();
      topo.hosts.find((h) => h.name === 'node')!.sysctls!.ip_forward = false;
      const noFwd = labOf({ node: filter('') }, topo);
      const routed = obs(noFwd, { from: 'pod1', proto: 'tcp', dst: '192.168.50.20', dport: 8080 });
      expect(routed.outcome).toBe('dropped');
      expect(routed.droppedAt?.reason).toContain('ip_forward=0');
      // bridged frames still pass the FORWARD hook through br_netfilter, and are delivered
      const bridged = only(noFwd, { from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080 });
      expect(bridged.observation.outcome).toBe('delivered');
      expect(hooksOn(bridged, 'node')).toContain('FORWARD');
      // local destinations go to INPUT regardless
      expect(obs(noFwd, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 }).outcome).toBe('delivered');
    },
  );
});

describe('iptables examples', () => {
  test('C6: INPUT -s SRC -j DROP blocks that source from local services only', () => {
    const lab = labOf({ node: filter('-A INPUT -s 192.168.50.20 -j DROP') });
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 }).droppedAt).toMatchObject({
      hook: 'INPUT',
      chain: 'INPUT',
      rule: 1,
    });
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '10.244.1.1', dport: 8080 }).outcome).toBe('delivered');
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 8080 }).outcome).toBe('delivered');
  });
  test('C7: -I takes precedence over -A; -t selects the table', () => {
    const lab = labOf({
      node:
        'iptables -A INPUT -s 192.168.50.20 -j DROP\niptables -I INPUT -s 192.168.50.20 -p tcp' +
        ' --dport 8080 -j ACCEPT\n',
    });
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 }).outcome).toBe('delivered');
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090 }).outcome).toBe('dropped');
  });
  test('C8: several matches in one rule are ANDed', () => {
    const lab = labOf({ node: filter('-A INPUT -s 192.168.50.20 -p tcp --dport 8080 -j DROP') });
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 }).outcome).toBe('dropped');
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090 }).outcome).toBe('delivered');
    expect(obs(lab, { from: 'client', proto: 'udp', dst: '192.168.50.10', dport: 8080 }).outcome).toBe('delivered');
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '10.244.1.1', dport: 8080 }).outcome).toBe('delivered');
  });
  test('C9: SNAT needs a source, DNAT a destination; MASQUERADE takes the outgoing interface address', () => {
    expect(() => parseRuleset('iptables -t nat -A POSTROUTING -j SNAT')).toThrow('SNAT: --to-source is required');
    expect(() => parseRuleset('iptables -t nat -A PREROUTING -j DNAT')).toThrow('DNAT: --to-destination is required');
    const lab = labOf({
      node:
        'iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE\niptables -t nat -A POSTROUTING -o' +
        ' eth1 -j MASQUERADE\n',
    });
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '192.168.50.20', dport: 8080 }).seen?.src).toBe(
      '192.168.50.10:40000',
    );
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '10.0.2.11', dport: 8080 }).seen?.src).toBe('10.0.2.10:40000');
  });
  test('C10: DNAT in nat OUTPUT affects only local processes; pods need the rule in PREROUTING', () => {
    const out = labOf({ node: 'iptables -t nat -A OUTPUT -d 10.96.0.100 -j DNAT --to-destination 10.244.1.11\n' });
    expect(obs(out, { from: 'node', proto: 'tcp', dst: '10.96.0.100', dport: 8080 })).toMatchObject({
      outcome: 'delivered',
      responder: 'pod1',
    });
    expect(obs(out, { from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 8080 }).outcome).toBe('dropped');
    const pre = labOf({ node: 'iptables -t nat -A PREROUTING -d 10.96.0.100 -j DNAT --to-destination 10.244.1.11\n' });
    expect(obs(pre, { from: 'pod2', proto: 'tcp', dst: '10.96.0.100', dport: 8080 })).toMatchObject({
      outcome: 'delivered',
      responder: 'pod1',
    });
    expect(obs(pre, { from: 'node', proto: 'tcp', dst: '10.96.0.100', dport: 8080 }).outcome).toBe('dropped');
  });
  test('C11: POSTROUTING MASQUERADE gives a pod outside access; (approx) SNAT is also valid in nat INPUT', () => {
    const lab = labOf({ node: 'iptables -t nat -A POSTROUTING -s 10.244.1.11 -j MASQUERADE\n' });
    expect(obs(lab, { from: 'pod1', proto: 'tcp', dst: '192.168.50.20', dport: 8080 }).seen).toEqual({
      src: '192.168.50.10:40000',
      dst: '192.168.50.20:8080',
    });
    expect(obs(lab, { from: 'pod2', proto: 'tcp', dst: '192.168.50.20', dport: 8080 }).seen?.src).toBe(
      '10.244.1.12:40000',
    );
    const input = labOf({ node: 'iptables -t nat -A INPUT -s 192.168.50.20 -j SNAT --to-source 10.9.9.9\n' });
    expect(obs(input, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 }).seen?.src).toBe(
      '10.9.9.9:40000',
    );
  });
  test('C12: INPUT -s 192.168.8.166 -p tcp --dport 80 -j ACCEPT admits only that source', () => {
    const lab = labOf({ node: filter('-A INPUT -s 192.168.8.166/32 -p tcp -m tcp --dport 80 -j ACCEPT', 'DROP') });
    expect(obs(lab, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 80 }).droppedAt).toMatchObject({
      chain: 'INPUT',
      rule: 'policy',
    });
    const mine = labOf({ node: filter('-A INPUT -s 192.168.50.20/32 -p tcp -m tcp --dport 80 -j ACCEPT', 'DROP') });
    // accepted, then refused: nothing listens on port 80
    expect(obs(mine, { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 80 }).outcome).toBe('refused');
  });
  test('C13: DNAT cannot be put in POSTROUTING', () => {
    expect(() =>
      parseRuleset('iptables -t nat -A POSTROUTING -d 10.96.0.100 -j DNAT --to-destination 10.244.1.11\n'),
    ).toThrow(/DNAT is not allowed in nat POSTROUTING/);
  });
});

describe('Services on the model (more in the kernel tests)', () => {
  const lab = labOf({
    node: kubeProxyNat({ vip: '10.96.0.100', port: 80, endpoints: ['10.244.1.11', '10.244.1.12'], targetPort: 8080 }),
  });
  test('a ClusterIP load-balances 1/2 : 1/2 from the client, masqueraded to the bridge address', () => {
    const res = probe(lab, { from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80 });
    expect(res.map((r) => [r.p, r.value.observation.responder, r.value.observation.seen?.src]).sort()).toEqual([
      [0.5, 'pod1', '10.244.1.1:1024-65535'],
      [0.5, 'pod2', '10.244.1.1:1024-65535'],
    ]);
  });
  test('C21: hairpin to the same pod is dropped by the bridge while hairpin mode is off', () => {
    const res = probe(lab, { from: 'pod1', proto: 'tcp', dst: '10.96.0.100', dport: 80 });
    const self = res.find((r) => r.value.observation.outcome === 'dropped')!;
    expect(self.p).toBeCloseTo(0.5, 9);
    expect(self.value.observation.droppedAt?.reason).toContain('hairpin mode is off');
  });
  test('C20: a ClusterIP does not answer ping', () => {
    expect(obs(lab, { from: 'pod1', proto: 'icmp', dst: '10.96.0.100' }).outcome).toBe('dropped');
  });
});
