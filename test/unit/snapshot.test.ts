// #15 §1: a topology built from a host snapshot (pure), and `trace --snapshot` on it.
import { test, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  topologyFromSnapshots,
  compileTopology,
  checkSnapshot,
  JsonChecker,
  nativeNftTables,
} from '../../src/model/index.ts';
import { main } from '../../src/cli/cli.ts';
import { nodeSnapshot } from '../helpers/snapshot-fixture.ts';

const SVC = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  '[3:180] -A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.3:9090',
  'COMMIT',
  '',
].join('\n');

test('the host, its bridge ports and a synthesized neighbour on each link', () => {
  const t = topologyFromSnapshots([{ host: 'node', snapshot: nodeSnapshot(SVC) }]);
  const node = t.spec.hosts.find((h) => h.name === 'node')!;
  expect(node.ifaces.map((i) => i.name)).toEqual(['eth0', 'cni0', 'vethA', 'vethB', 'cali1']);
  expect(node.ifaces.find((i) => i.name === 'vethA')).toMatchObject({ master: 'cni0', hairpin: true });
  expect(node.ifaces.find((i) => i.name === 'vethB')).toMatchObject({ master: 'cni0', hairpin: false });
  expect(node.routes).toEqual([
    { dst: 'default', via: '192.168.50.1', dev: 'eth0' },
    { dst: '10.244.9.7/32', dev: 'cali1' },
  ]);
  // rp_filter: max(all=0, IF=1) on every interface
  expect(node.sysctls).toMatchObject({ ip_forward: true, rp_filter: 1, bridge_nf_call_iptables: true });
  const nb = (iface: string) => {
    const peer = node.ifaces.find((i) => i.name === iface)!.peer!;
    return t.spec.hosts.find((h) => h.name === peer.host)!;
  };
  // pods behind the bridge ports: distinct free addresses of the bridge's subnet, default via the bridge
  expect(nb('vethA').ifaces[0]!.addrs).toEqual(['10.244.1.2/24']);
  expect(nb('vethB').ifaces[0]!.addrs).toEqual(['10.244.1.3/24']);
  expect(nb('vethA').routes).toEqual([{ dst: 'default', via: '10.244.1.1' }]);
  // the gateway behind eth0 owns the next hop; the Calico-style /32 "dev" route's address is its neighbour's
  expect(nb('eth0').ifaces[0]!.addrs).toEqual(['192.168.50.1/24']);
  expect(nb('cali1').ifaces[0]!.addrs).toEqual(['10.244.9.7/32']);
  expect(t.notes.join('\n')).toMatch(/down0 is down/);
  expect(t.notes.join('\n')).toMatch(/blackhole 10\.9\.9\.0\/24 left out/);
  expect(t.notes.join('\n')).toMatch(/policy rule .*fwmark/);
  expect(t.rulesets.get('node')).toMatchObject({ backend: 'nft', text: SVC });
  compileTopology(t.spec); // it holds together
});

test('per-interface sysctls come back per interface: max(all, IF) and all || IF, as the kernel reads them', () => {
  const snap = nodeSnapshot();
  const set = (k: string, v: string) => void (snap.sysctls[`net/ipv4/conf/${k}`] = v);
  set('all/arp_ignore', '1');
  set('eth0/arp_ignore', '0'); // max(1, 0): 1, the host's
  set('cni0/arp_ignore', '2');
  set('vethA/arp_ignore', '5'); // not modelled: a note
  set('eth0/arp_announce', '2');
  set('cni0/arp_filter', '1');
  set('all/route_localnet', '0');
  set('cali1/route_localnet', '1');
  set('eth0/rp_filter', '2');
  const t = topologyFromSnapshots([{ host: 'node', snapshot: snap }]);
  const node = t.spec.hosts.find((h) => h.name === 'node')!;
  const own = (i: string) => node.ifaces.find((x) => x.name === i)!.sysctls;
  expect(node.sysctls).toMatchObject({ arp_ignore: 1, arp_announce: 0, arp_filter: false, rp_filter: 1 });
  expect(own('eth0')).toEqual({ arp_announce: 2, rp_filter: 2 });
  expect(own('cni0')).toEqual({ arp_ignore: 2, arp_filter: true });
  expect(own('cali1')).toEqual({ route_localnet: true });
  expect(own('vethB')).toBeUndefined();
  expect(t.notes.join('\n')).toMatch(/arp_ignore=5 on vethA is not modelled/);
  expect(t.notes.join('\n')).not.toMatch(/rp_filter differs/);
  // compiled, every interface has the value the kernel reads
  const conf = (i: string) => compileTopology(t.spec).hosts.get('node')!.ifaces.get(i)!.conf;
  expect(conf('eth0')).toMatchObject({ arp_ignore: 1, arp_announce: 2, arp_filter: false, rp_filter: 2 });
  expect(conf('cni0')).toMatchObject({ arp_ignore: 2, arp_announce: 0, arp_filter: true, rp_filter: 1 });
  expect(conf('vethA')).toMatchObject({ arp_ignore: 1 });
  expect(conf('cali1')).toMatchObject({ route_localnet: true });
  expect(conf('eth0')).toMatchObject({ route_localnet: false });
});

test('an address a probe comes from goes to the neighbour on its link, or behind its route', () => {
  const t = topologyFromSnapshots([{ host: 'node', snapshot: nodeSnapshot() }], {
    extraAddrs: ['10.244.1.77', '8.8.4.4'],
  });
  const owner = (a: string) =>
    t.spec.hosts.find((h) => h.ifaces.some((i) => i.addrs?.some((x) => x.startsWith(`${a}/`))));
  expect(owner('10.244.1.77')!.name).toBe('node-pod-vethA');
  expect(owner('8.8.4.4')!.name).toBe('node-nb-eth0');
});

test('a snapshot file of another format or version is refused with its JSON path', () => {
  const j = new JsonChecker('x.json');
  expect(() => checkSnapshot({ ...nodeSnapshot(), version: 2 }, j)).toThrow(/version: snapshot version 2/);
  expect(() => checkSnapshot({ format: 'other' }, j)).toThrow(/format: expected "nfconform-snapshot"/);
});

test('trace --snapshot: a pod behind a bridge port reaches a ClusterIP DNATed to the other pod', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-snap-'));
  const f = join(dir, 'node.json');
  writeFileSync(f, JSON.stringify(nodeSnapshot(SVC)));
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
  expect(await main(['trace', '--snapshot', f, '--from', 'vethA', '--json', 'udp', '10.96.0.10:53'], io)).toBe(0);
  const r = JSON.parse(out) as { probe: { from: string }; results: { observation: { responder: string } }[] };
  expect(r.probe.from).toBe('node-pod-vethA');
  expect(r.results.map((x) => x.observation.responder)).toEqual(['node-pod-vethB']);
  out = '';
  expect(await main(['trace', '--snapshot', f, '--from', '10.244.1.50', '--json', 'udp', '10.96.0.10:53'], io)).toBe(0);
  expect((JSON.parse(out) as { probe: { src: string } }).probe.src).toBe('10.244.1.50');
  out = '';
  expect(await main(['trace', '--snapshot', f, '--topology', 'k8s-node', '--from', 'x', 'udp', '1.2.3.4'], io)).toBe(2);
  out = '';
  writeFileSync(f, '{"format":"nfconform-snapshot","version":1}');
  expect(await main(['trace', '--snapshot', f, '--from', 'x', 'udp', '1.2.3.4'], io)).toBe(2);
  expect(out).toMatch(/node\.json.*taken|iptables/);
});

test('validate --snapshot takes the node rules, addresses and pod network from the snapshot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-snapv-'));
  const fx = (f: string) => fileURLToPath(new URL(`../../suites/fixtures/${f}`, import.meta.url));
  const run = async (args: string[]) => {
    let out = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
    const code = await main(
      ['validate', '--services', fx('services.json'), '--node', 'node', '--sides', 'model', '--json', ...args],
      io,
    );
    return { code, out };
  };
  const statuses = (out: string) =>
    (JSON.parse(out) as { services: { service: string; status: string }[] }).services.map(
      (s) => `${s.service} ${s.status}`,
    );
  for (const [dump, code] of [
    ['node.iptables-save', 0],
    ['node-broken.iptables-save', 1],
  ] as const) {
    const f = join(dir, `${dump}.json`);
    writeFileSync(f, JSON.stringify(nodeSnapshot(readFileSync(fx(dump), 'utf8'))));
    const bySnapshot = await run(['--snapshot', f]);
    const byFlags = await run(['--ruleset', fx(dump), '--node-ip', '192.168.50.10', '--pod-cidr', '10.244.1.0/24']);
    expect(bySnapshot.code, bySnapshot.out).toBe(code);
    expect(byFlags.code).toBe(code);
    expect(statuses(bySnapshot.out)).toEqual(statuses(byFlags.out));
    expect(statuses(bySnapshot.out).length).toBeGreaterThan(5);
  }
  expect((await run(['--snapshot', 'x.json', '--ruleset', fx('node.iptables-save')])).code).toBe(2);
});

test("a snapshot's native nft tables: iptables-nft's own tables left out, an old snapshot without nft read", () => {
  const listing = [
    'table ip filter {',
    '\tchain INPUT {',
    '\t\ttype filter hook input priority filter; policy accept;',
    '\t\tmeta l4proto tcp tcp dport 9999 counter packets 0 bytes 0 accept',
    '\t}',
    '}',
    'table ip kube-proxy {',
    '\tchain services {',
    '\t}',
    '}',
    'table inet fw {',
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy accept;',
    '\t}',
    '}',
    '',
  ].join('\n');
  const snap = { ...nodeSnapshot('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n'), nft: listing };
  const native = nativeNftTables(snap)!;
  expect(native.tables).toEqual(['ip kube-proxy', 'inet fw']);
  expect(native.text).toContain('table ip kube-proxy {\n\tchain services {\n\t}\n}\n');
  expect(native.text).not.toContain('dport 9999');
  // without iptables-nft's filter table, a native `ip filter` table is the node's own
  expect(nativeNftTables({ ...snap, iptables: { nft: '', legacy: null } })!.tables).toHaveLength(3);
  const { nft: _, ...old } = snap;
  expect(checkSnapshot(JSON.parse(JSON.stringify(old)), new JsonChecker('old.json')).nft).toBeUndefined();
  expect(checkSnapshot(JSON.parse(JSON.stringify(snap)), new JsonChecker('s.json')).nft).toBe(listing);
  expect(nativeNftTables({ ...snap, nft: null })).toBeUndefined();
});
