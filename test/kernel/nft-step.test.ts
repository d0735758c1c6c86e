// The nft step on a paired lab (spec/nft.md §8.2): each side runs the transaction on its own state, refusals
// compared; a rule the step adds changes what probes meet on both sides.
import { describe, test, expect, afterAll } from 'vitest';
import { LabPool } from '../../src/conform/run-case.ts';
import { caseTopology, checkCase } from '../../src/conform/case-file.ts';
import { skipReason, kernelDescribe } from './env.ts';

describe.skipIf(skipReason)(kernelDescribe('kernel: nft steps on a paired lab'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  test('a transaction, then one refused on both sides, then a probe meets the rule', async () => {
    const topo = caseTopology(checkCase({ name: 'c', topology: 'k8s-node', steps: [{ wait: 0 }] }, 'c.json'));
    const lab = await pool.get(topo, { fresh: true });
    const add = [
      'add table ip t',
      'add chain ip t input { type filter hook input priority 0; policy accept; }',
      'add set ip t s { type ipv4_addr; }',
      'add rule ip t input tcp dport 9090 ip saddr @s drop',
      'add element ip t s { 192.168.50.20 }',
    ].join('\n');
    const ok = await lab.command({ type: 'nft', hosts: [{ host: 'node', text: add }], expectRefused: false }, 'c');
    expect(ok).toEqual({ model: { node: null }, kernel: { node: null } });
    const del = 'delete element ip t s { 192.168.50.20 }\ndelete element ip t s { 192.168.50.21 }';
    const no = await lab.command({ type: 'nft', hosts: [{ host: 'node', text: del }], expectRefused: true }, 'c');
    expect(no.model.node).toMatch(/element does not exist/);
    expect(no.kernel.node).toMatch(/No such file or directory/);
    // all or nothing: the first delete did not happen either
    const p = await lab.probe({ from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090 });
    expect(p.kernel.outcome).toBe('dropped');
    expect(p.verdict.matched).toBeTruthy();
  });
});
