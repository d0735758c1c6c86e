// Issue 14 §2, issue 17: what the lab sees of a probe's failure (spec/observation.md): the ICMP error itself
// (type, code, source, quoted header), a RST told apart from an ICMP port-unreachable, the local errno, and
// who counts as the responder. Each check asserts the kernel's value and the model's agreement.
import { describe, test, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { PairedLab, type PairedProbe } from '../../src/conform/paired-lab.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import type { Probe, TopologySpec } from '../../src/model/index.ts';
import { skipReason, kernelDescribe } from './env.ts';

const filter = (...rules: string[]) => `*filter\n${rules.join('\n')}\nCOMMIT\n`;

describe.skipIf(skipReason)(kernelDescribe('kernel: what a failed probe tells the client'), () => {
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

  async function agreed(p: Probe): Promise<PairedProbe> {
    const r = await lab.probe(p);
    expect(r.verdict.diffs, `${JSON.stringify(p)}: kernel ${JSON.stringify(r.kernel)}`).toEqual([]);
    return r;
  }

  test('an ICMP echo REJECTed in FORWARD: no responder, the error comes from the node (issue 17)', async () => {
    expect((await lab.apply('node', filter('-A FORWARD -p icmp -j REJECT'))).kernelOk).toBe(true);
    const r = await agreed({ from: 'client', proto: 'icmp', dst: '10.244.1.11', sport: 41000 });
    expect(r.kernel).toMatchObject({
      outcome: 'refused',
      responder: null,
      icmp: 'port-unreachable',
      replyFrom: '192.168.50.10',
      error: {
        kind: 'icmp',
        from: '192.168.50.10',
        type: 3,
        code: 3,
        quoted: 'icmp 192.168.50.20>10.244.1.11 id=41000',
      },
    });
  });

  test('a TCP refusal by RST is told apart from one by ICMP port-unreachable', async () => {
    await lab.apply(
      'node',
      filter(
        '-A FORWARD -p tcp --dport 9090 -j REJECT --reject-with tcp-reset',
        '-A FORWARD -p tcp --dport 8080 -j REJECT',
      ),
    );
    const rst = await agreed({ from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 9090 });
    expect(rst.kernel).toMatchObject({
      outcome: 'refused',
      icmp: null,
      error: { kind: 'tcp-reset', from: '10.244.1.11' },
    });
    const icmp = await agreed({ from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 8080, sport: 41005 });
    expect(icmp.kernel).toMatchObject({
      outcome: 'refused',
      icmp: 'port-unreachable',
      error: {
        kind: 'icmp',
        type: 3,
        code: 3,
        from: '192.168.50.10',
        quoted: 'tcp 192.168.50.20:41005>10.244.1.11:8080',
      },
    });
    // a closed port: the server's own RST
    const closed = await agreed({ from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 7 });
    expect(closed.kernel.error).toMatchObject({ kind: 'tcp-reset', from: '10.244.1.11' });
  });

  test('a connected UDP socket hears net- and host-unreachable (soft errors, heard only with IP_RECVERR)', async () => {
    await lab.apply(
      'node',
      filter(
        '-A FORWARD -p udp --dport 8080 -j REJECT --reject-with icmp-net-unreachable',
        '-A FORWARD -p udp --dport 9090 -j REJECT --reject-with icmp-host-unreachable',
      ),
    );
    const net = await agreed({ from: 'client', proto: 'udp', dst: '10.244.1.11', dport: 8080 });
    expect(net.kernel).toMatchObject({ outcome: 'icmp-error', icmp: 'net-unreachable', error: { type: 3, code: 0 } });
    const host = await agreed({ from: 'client', proto: 'udp', dst: '10.244.1.11', dport: 9090 });
    expect(host.kernel).toMatchObject({ outcome: 'icmp-error', icmp: 'host-unreachable', error: { type: 3, code: 1 } });
  });

  test('an error about a DNATed packet comes back from the Service address, quoting what the client sent', async () => {
    await lab.apply(
      'node',
      `*nat\n-A PREROUTING -d 10.96.0.1 -j DNAT --to-destination` +
        ` 10.244.1.11\nCOMMIT\n${filter('-A FORWARD -j REJECT --reject-with icmp-admin-prohibited')}`,
    );
    for (const proto of ['udp', 'tcp', 'icmp'] as const) {
      const r = await agreed({ from: 'client', proto, dst: '10.96.0.1', dport: 9090, sport: 41100 });
      expect(r.kernel).toMatchObject({ outcome: 'icmp-error', responder: null, icmp: 'admin-prohibited' });
      expect(r.kernel.error).toMatchObject({ kind: 'icmp', from: '10.96.0.1', code: 13 });
      expect(r.kernel.error?.quoted).toContain('>10.96.0.1');
      await lab.reset();
      await lab.apply(
        'node',
        `*nat\n-A PREROUTING -d 10.96.0.1 -j DNAT --to-destination` +
          ` 10.244.1.11\nCOMMIT\n${filter('-A FORWARD -j REJECT --reject-with icmp-admin-prohibited')}`,
      );
    }
  });

  test(
    'a send dropped in OUTPUT: EPERM for UDP and ICMP, silence for TCP; a REJECT in OUTPUT' + ' answers too',
    async () => {
      await lab.apply('node', filter('-A OUTPUT -d 10.244.1.11 -j DROP'));
      for (const proto of ['udp', 'icmp'] as const) {
        const r = await agreed({ from: 'node', proto, dst: '10.244.1.11', dport: 8080 });
        expect(r.kernel).toMatchObject({ outcome: 'dropped', error: { kind: 'local', errno: 'EPERM' } });
      }
      const tcp = await agreed({ from: 'node', proto: 'tcp', dst: '10.244.1.11', dport: 8080 });
      expect(tcp.kernel).toMatchObject({ outcome: 'dropped', error: null });
      await lab.reset();
      await lab.apply('node', filter('-A OUTPUT -d 10.244.1.11 -p udp -j REJECT'));
      const rej = await agreed({ from: 'node', proto: 'udp', dst: '10.244.1.11', dport: 8080 });
      expect(rej.kernel).toMatchObject({ outcome: 'refused', error: { kind: 'icmp', code: 3, errno: 'EPERM' } });
    },
  );

  test('an unconnected UDP socket takes a reply from another address; a connected one does not', async () => {
    // the request is DNATed, the reply is NOTRACKed: it comes back from the pod's own address, not un-DNATed
    await lab.apply(
      'node',
      '*raw\n-A PREROUTING -s 10.244.1.11 -p udp --sport 8080 -j NOTRACK\nCOMMIT\n*nat\n-A' +
        ' PREROUTING -d 10.96.0.1 -p udp -j DNAT --to-destination 10.244.1.11\nCOMMIT\n',
    );
    const un = await agreed({ from: 'client', proto: 'udp', dst: '10.96.0.1', dport: 8080, connected: false });
    expect(un.kernel).toMatchObject({ outcome: 'delivered', responder: 'pod1', replyFrom: '10.244.1.11' });
    const conn = await agreed({ from: 'client', proto: 'udp', dst: '10.96.0.1', dport: 8080 });
    expect(conn.kernel).toMatchObject({ outcome: 'dropped', replyFrom: null });
  });
});

/** a host behind a router that forwards but has no route beyond its own links */
const routerLab = (): TopologySpec => ({
  name: 'router',
  hosts: [
    {
      name: 'a',
      ifaces: [{ name: 'eth0', addrs: ['10.0.0.2/24'], peer: { host: 'r', iface: 'eth0' } }],
      routes: [{ dst: 'default', via: '10.0.0.1' }],
    },
    {
      name: 'r',
      ifaces: [{ name: 'eth0', addrs: ['10.0.0.1/24'], peer: { host: 'a', iface: 'eth0' } }],
      sysctls: { ip_forward: true },
    },
  ],
});

describe.skipIf(skipReason)(kernelDescribe('kernel: routing errors are not rate-limited away'), () => {
  let lab: PairedLab;
  beforeAll(async () => {
    lab = await PairedLab.up(routerLab());
  });
  afterAll(async () => {
    await lab?.down();
  });

  const unroutable = (sport: number): Probe => ({ from: 'a', proto: 'udp', dst: '10.9.9.9', dport: 7, sport });

  test('a routing error right after another ICMP error to the same peer is sent (icmp_ratemask=0)', async () => {
    await lab.reset();
    for (let i = 0; i < 3; i++) {
      const closed = await lab.probe({ from: 'a', proto: 'udp', dst: '10.0.0.1', dport: 7, sport: 42000 + i });
      expect(closed.kernel).toMatchObject({ outcome: 'refused', icmp: 'port-unreachable' });
      const r = await lab.probe(unroutable(42100 + i));
      expect(r.verdict.diffs).toEqual([]);
      expect(r.kernel).toMatchObject({
        outcome: 'icmp-error',
        icmp: 'net-unreachable',
        error: { kind: 'icmp', from: '10.0.0.1', code: 0, quoted: `udp 10.0.0.2:${42100 + i}>10.9.9.9:7` },
      });
    }
  });

  test("after a reset, ip_error's bucket is full again: five routing errors in a row, as in a fresh lab", async () => {
    for (let round = 0; round < 2; round++) {
      await lab.reset();
      for (let i = 0; i < 5; i++) {
        const r = await lab.probe(unroutable(43000 + round * 10 + i));
        expect(r.kernel.icmp, `round ${round}, probe ${i}`).toBe('net-unreachable');
      }
    }
  });
});
