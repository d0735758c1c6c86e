import { test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reproScript } from '../../src/conform/repro.ts';
import type { CaseFile } from '../../src/conform/case-file.ts';
import { planCase } from '../../src/conform/plan.ts';

const c: CaseFile = {
  name: 'repro test',
  topology: 'k8s-node',
  hosts: {
    node: {
      ruleset: 'iptables -t nat -A PREROUTING -d 10.96.0.1 -p tcp -j DNAT --to-destination 10.244.1.12:8080\n',
      hairpin: ['veth-pod1'],
    },
  },
  steps: [
    { from: 'client', proto: 'tcp', dst: '10.96.0.1', dport: 80 },
    { from: 'pod1', proto: 'icmp', dst: '10.244.1.12' },
  ],
};

test('repro.sh is valid bash that builds the lab, applies the canonical ruleset and cleans up', async () => {
  const s = reproScript(await planCase(c));
  const dir = mkdtempSync(join(tmpdir(), 'nfc-repro-'));
  writeFileSync(join(dir, 'repro.sh'), s);
  execFileSync('bash', ['-n', join(dir, 'repro.sh')]); // syntax check
  expect(s).toContain('trap cleanup EXIT INT TERM');
  expect(s).toContain('iptables-nft-restore');
  expect(s).toContain('-A PREROUTING -d 10.96.0.1/32 -p tcp -j DNAT --to-destination 10.244.1.12:8080');
  expect(s).toContain('link set veth-pod1 type bridge_slave hairpin on');
  expect(s).toContain('TCP:10.96.0.1:80,sourceport=41000');
  expect(s).toContain('ping -n -c1 -W1 10.244.1.12');
  expect(s).not.toMatch(/nfconform|node bin/);
});

test(
  'artifacts of a generated Services case: case.json replays with check (services.json' +
    ' beside it), repro.sh carries the compiled rules',
  async () => {
    const { writeArtifacts } = await import('../../src/conform/artifacts.ts');
    const { serviceCase } = await import('../../src/conform/service-arbitraries.ts');
    const { loadCase } = await import('../../src/conform/case-file.ts');
    const { readFileSync } = await import('node:fs');
    const c = serviceCase({
      services: [
        {
          type: 'NodePort',
          udp: false,
          endpoints: [{ pod: 0, ready: true }],
          targetPort: 8080,
          etpLocal: false,
          itpLocal: false,
          affinity: false,
          sourceRanges: false,
        },
      ],
      probes: [{ from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 30100 }],
    });
    const dir = await writeArtifacts(mkdtempSync(join(tmpdir(), 'nfc-art-')), { c, diffs: [] });
    const again = loadCase(join(dir, 'case.json'));
    expect(JSON.parse(again.services!.text!).items[0].spec.ports[0].nodePort).toBe(30100);
    const repro = readFileSync(join(dir, 'repro.sh'), 'utf8');
    expect(repro).toMatch(/KUBE-NODEPORTS -p tcp .* --dport 30100 -j KUBE-EXT-/);
    execFileSync('bash', ['-n', join(dir, 'repro.sh')]);
    // nftables mode in the shape of the release the campaign drew for (fuzz --kube-proxy-version): 1.35 marks for
    // masquerade in a chain of its own, 1.36 has none; explain.md's check line names both flags
    const shape = async (kubeProxyVersion: '1.35' | '1.36') => {
      const out = await writeArtifacts(mkdtempSync(join(tmpdir(), 'nfc-art-')), {
        c,
        diffs: [],
        seed: 1,
        path: '0',
        mode: 'nftables',
        kubeProxyVersion,
      });
      return [readFileSync(join(out, 'repro.sh'), 'utf8'), readFileSync(join(out, 'explain.md'), 'utf8')] as const;
    };
    const [old, oldExplain] = await shape('1.35');
    const [now, nowExplain] = await shape('1.36');
    expect(old).toContain('chain mark-for-masquerade');
    expect(now).not.toContain('mark-for-masquerade');
    expect(oldExplain).toContain('--mode nftables --kube-proxy-version 1.35');
    expect(nowExplain).toContain('--mode nftables --kube-proxy-version 1.36');
  },
);

test('repro.sh of a case with both backends loads the other backend second', async () => {
  const s = reproScript(
    await planCase({
      ...c,
      hosts: {
        node: {
          backend: 'nft',
          ruleset: '*filter\n-A INPUT -p tcp --dport 8080 -j DROP\nCOMMIT\n',
          otherBackendRuleset: '*filter\n-A INPUT -p tcp --dport 9090 -j DROP\nCOMMIT\n',
        },
      },
    }),
  );
  const nft = s.indexOf('iptables-nft-restore');
  const legacy = s.indexOf('iptables-legacy-restore');
  expect(nft).toBeGreaterThan(0);
  expect(legacy).toBeGreaterThan(nft);
  expect(s.slice(legacy)).toContain('--dport 9090 -j DROP');
});
