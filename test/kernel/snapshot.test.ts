// #15 §1: snapshot every host of a k8s-node lab with `snapshot --netns`, rebuild the topology from the
// snapshots, and every probe of seed suites observes the same on the model with the rebuilt topology as
// with the original; `trace --snapshot` on a snapshot of the lab's node.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { k8sNode, topologyFromSnapshots, checkSnapshot, JsonChecker, type Snapshot } from '../../src/model/index.ts';
import type { TopologySpec } from '../../src/model/index.ts';
import { loadCase, findCaseFiles, SUITES_DIR, type CaseFile } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { main } from '../../src/cli/cli.ts';
import { skipReason, kernelDescribe } from './env.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfc-snapshot-'));

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
  return { code: await main(args, io), out };
}

/** every host of the lab through the CLI, read back from the files it wrote */
async function snapshotAll(lab: KernelLab): Promise<{ host: string; snapshot: Snapshot }[]> {
  const out: { host: string; snapshot: Snapshot }[] = [];
  for (const [host, ns] of lab.ns) {
    const f = join(dir, `${host}.json`);
    expect((await cli(['snapshot', '--netns', ns, '-o', f])).code).toBe(0);
    out.push({ host, snapshot: checkSnapshot(JSON.parse(readFileSync(f, 'utf8')), new JsonChecker(f)) });
  }
  return out;
}

/** the model's observations of every probe of the cases, on a topology */
async function observations(cases: readonly CaseFile[], topology: TopologySpec): Promise<string[]> {
  const reports = await runCases(
    cases.map((c) => ({ ...c, topology: structuredClone(topology) })),
    { sides: 'model' },
  );
  return reports.flatMap((r) => {
    if (r.error) throw new Error(`${r.name}: ${r.error}`);
    return r.steps.map((s) => `${r.name} ${s.label}: ${JSON.stringify(s.model)}`);
  });
}

const SEED = ['C04', 'C11', 'C14', 'C15', 'C16', 'C18'];
const seedCases = () =>
  findCaseFiles(join(SUITES_DIR, 'seed'))
    .filter((f) => SEED.some((id) => f.includes(`/${id}-`)))
    .map(loadCase)
    .filter((c) => c.topology === 'k8s-node');

describe.skipIf(skipReason)(kernelDescribe('kernel: snapshot round trip'), () => {
  let lab: KernelLab;
  beforeAll(async () => {
    lab = await KernelLab.up(k8sNode());
  });
  afterAll(async () => {
    await lab?.down();
  });

  test(
    'snapshots of every host rebuild the lab: the same links, and the same observation for' + ' every probe',
    async () => {
      const snaps = await snapshotAll(lab);
      for (const { snapshot } of snaps) {
        expect(snapshot.kernel).toMatch(/^\d+\.\d+/);
        expect(snapshot.iptables.nft).not.toBeNull();
        expect(snapshot.sysctls['net/ipv4/ip_forward']).toMatch(/^[01]$/);
      }
      const rebuilt = topologyFromSnapshots(snaps, { name: 'k8s-node' });
      // every link is joined to its real peer: nothing synthesized
      expect([...rebuilt.synthesized.keys()]).toEqual([]);
      const original = k8sNode();
      for (const h of original.hosts) {
        const r = rebuilt.spec.hosts.find((x) => x.name === h.name)!;
        expect(r, h.name).toBeDefined();
        const canon = (i: object) => JSON.stringify(i, Object.keys(i).sort().concat('host', 'iface'));
        expect(new Set(r.ifaces.map(canon))).toEqual(
          new Set(h.ifaces.map((i) => canon({ ...i, ...(i.master ? { hairpin: i.hairpin ?? false } : {}) }))),
        );
      }
      const cases = seedCases();
      expect(cases.length).toBeGreaterThanOrEqual(4);
      const before = await observations(cases, original);
      const after = await observations(cases, rebuilt.spec);
      expect(before.length).toBeGreaterThan(10);
      expect(after).toEqual(before);
    },
  );

  test('hairpin and sysctls changed on the live node come back through the snapshot', async () => {
    const spec = k8sNode();
    const node = spec.hosts.find((h) => h.name === 'node')!;
    node.ifaces.find((i) => i.name === 'veth-pod1')!.hairpin = true;
    node.sysctls = { ...node.sysctls, rp_filter: 1, route_localnet: true };
    // per-interface ARP settings (conf.IF over conf.all): read back per interface
    node.ifaces.find((i) => i.name === 'cni0')!.sysctls = { arp_ignore: 1 };
    node.ifaces.find((i) => i.name === 'eth1')!.sysctls = { arp_filter: true, arp_announce: 2 };
    await lab.reconfigure(spec);
    try {
      const snaps = await snapshotAll(lab);
      const rebuilt = topologyFromSnapshots(snaps, { name: 'k8s-node' });
      const n = rebuilt.spec.hosts.find((h) => h.name === 'node')!;
      expect(n.ifaces.find((i) => i.name === 'veth-pod1')!.hairpin).toBe(true);
      expect(n.sysctls).toMatchObject({ rp_filter: 1, route_localnet: true, ip_forward: true });
      expect(n.sysctls).toMatchObject({ arp_ignore: 0, arp_announce: 0, arp_filter: false });
      expect(n.ifaces.find((i) => i.name === 'cni0')!.sysctls).toEqual({ arp_ignore: 1 });
      expect(n.ifaces.find((i) => i.name === 'eth1')!.sysctls).toEqual({ arp_filter: true, arp_announce: 2 });
      expect(n.ifaces.find((i) => i.name === 'eth0')!.sysctls).toBeUndefined();
      const hairpin = seedCases().filter((c) => c.hosts?.node?.hairpin?.length);
      const cases = [...seedCases(), ...hairpin];
      expect(await observations(cases, rebuilt.spec)).toEqual(await observations(cases, spec));
    } finally {
      await lab.reconfigure(k8sNode());
    }
  });

  test('trace --snapshot on a snapshot of the lab node: its rules, a neighbour behind each link', async () => {
    const rules = [
      '*nat',
      '-A PREROUTING -d 10.96.0.100/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.50.10:8080',
      'COMMIT',
      '*filter',
      '-A INPUT -p tcp -m tcp --dport 9090 -j DROP',
      'COMMIT',
      '',
    ].join('\n');
    expect((await lab.apply('node', rules)).ok).toBe(true);
    const f = join(dir, 'node-rules.json');
    expect((await cli(['snapshot', '--netns', lab.ns.get('node')!, '-o', f])).code).toBe(0);
    const trace = async (from: string, target: string) => {
      const r = await cli(['trace', '--snapshot', f, '--from', from, '--json', 'tcp', target]);
      expect(r.code, r.out).toBe(0);
      return JSON.parse(r.out) as { probe: { from: string }; results: { observation: Record<string, unknown> }[] };
    };
    const dnat = await trace('eth0', '10.96.0.100:80');
    expect(dnat.probe.from).toBe('node-nb-eth0');
    expect(dnat.results.map((x) => [x.observation.outcome, x.observation.responder])).toEqual([['delivered', 'node']]);
    const dropped = await trace('192.168.50.20', '192.168.50.10:9090');
    expect(dropped.results.map((x) => x.observation.outcome)).toEqual(['dropped']);
    // a pod behind a bridge port, by interface
    const pod = await trace('veth-pod2', '10.244.1.1:8080');
    expect(pod.probe.from).toBe('node-pod-veth-pod2');
    expect(pod.results.map((x) => x.observation.outcome)).toEqual(['delivered']);
  });
});
