// SCTP Service ports are not probed; the reason says what was measured on this kernel (issue #13).
import { test, expect } from 'vitest';
import { sctpSupport, sctpUnprobedWhy } from '../../src/lab/sctp.ts';
import { planProbes, SCTP_WHY } from '../../src/kube/probe-plan.ts';
import { readCluster } from '../../src/kube/objects.ts';
import { resolve } from '../../src/kube/endpoints.ts';

test('the reason names the failure the kernel gave, or says the kernel has SCTP sockets', () => {
  const none = sctpUnprobedWhy({ ok: false, why: 'socket(...) fails with EPROTONOSUPPORT: Protocol not supported' });
  expect(none).toMatch(/^not probed: this kernel has no SCTP sockets \(socket\(\.\.\.\) fails with EPROTONOSUPPORT/);
  expect(none).toMatch(/measured/);
  expect(sctpUnprobedWhy({ ok: true })).toMatch(
    /^not probed: this kernel opens SCTP sockets, but .* TCP, UDP and ICMP/,
  );
});

test('the measurement answers once, with a failure naming an errno or "ok"', async () => {
  const s = await sctpSupport();
  expect(await sctpSupport()).toBe(s);
  if (!s.ok) expect(s.why).toMatch(/fails with E[A-Z]+: |could not be measured/);
});

test('planProbes lists SCTP ports as unsent with the reason it is given', () => {
  const cluster = readCluster(
    JSON.stringify({
      kind: 'List',
      items: [
        {
          kind: 'Service',
          metadata: { name: 'sig' },
          spec: {
            clusterIP: '10.96.0.50',
            ports: [
              { name: 's', protocol: 'SCTP', port: 2905 },
              { name: 't', protocol: 'TCP', port: 80 },
            ],
          },
        },
      ],
    }),
  );
  const ports = resolve(cluster, 'node');
  const given = planProbes(ports, 'node', ['192.168.50.10'], {}, 'not probed: measured reason');
  expect(given.unsent).toEqual([
    { service: 'default/sig', label: expect.stringMatching(/2905\/sctp/), why: 'not probed: measured reason' },
  ]);
  expect(given.planned.every((p) => p.probe.proto === 'tcp')).toBe(true);
  expect(planProbes(ports, 'node', ['192.168.50.10']).unsent[0]!.why).toBe(SCTP_WHY);
});
