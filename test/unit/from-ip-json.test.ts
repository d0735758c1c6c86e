// #12 "Topology for a real ruleset": a topology from one host's `ip -j` output (real output captured in a
// throw-away namespace by scripts/realworld-capture.sh), `--topology` given such a file or folder, a case's
// `topologyFile`, and the warnings for rules that name what the topology lacks.
import { test, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  topologyFromIpJson,
  checkIpCapture,
  isIpCapture,
  readSysctlText,
  compileTopology,
  parseRuleset,
  rulesetWarnings,
  k8sNode,
  JsonChecker,
} from '../../src/model/index.ts';
import { loadTopologySpec } from '../../src/cli/load.ts';
import { checkCase } from '../../src/conform/case-file.ts';
import { main } from '../../src/cli/cli.ts';

const TOPO = fileURLToPath(new URL('../../suites/realworld/topologies/', import.meta.url));
const RULES = fileURLToPath(new URL('../../suites/realworld/rules/', import.meta.url));
const capture = (name: string) =>
  checkIpCapture(JSON.parse(readFileSync(join(TOPO, `${name}.ip.json`), 'utf8')), new JsonChecker(name));

test('a Docker host: its bridges keep their ports, each port gets a container, the uplink its gateway', () => {
  const { spec, synthesized } = topologyFromIpJson(capture('docker-host'));
  const node = spec.hosts.find((h) => h.name === 'node')!;
  expect(node.ifaces.map((i) => [i.name, i.bridge ?? i.master ?? null])).toEqual([
    ['eth0', null],
    ['docker0', true],
    ['veth0a1b2c3', 'docker0'],
    ['bridge1', true],
    ['veth4d5e6f7', 'bridge1'],
  ]);
  expect(node.routes).toEqual([{ dst: 'default', via: '203.0.113.1', dev: 'eth0' }]);
  const addr = (h: string) => spec.hosts.find((x) => x.name === h)?.ifaces[0]?.addrs;
  // the gateway the default route names, and the first free address behind each bridge (Docker's own choice)
  expect(addr('node-nb-eth0')).toEqual(['203.0.113.1/24']);
  expect(addr('node-pod-veth0a1b2c3')).toEqual(['172.17.0.2/16']);
  expect(addr('node-pod-veth4d5e6f7')).toEqual(['192.0.2.2/24']);
  expect(synthesized.get('node-pod-veth4d5e6f7')).toMatch(/bridge bridge1 port veth4d5e6f7/);
  expect(() => compileTopology(spec)).not.toThrow();
});

test('sysctls: none given is said; sysctl -a text is read, interface names with dots kept whole', () => {
  expect(topologyFromIpJson(capture('server')).notes.join('\n')).toMatch(/no sysctls given; ip_forward is off/);
  const s = readSysctlText('net.ipv4.ip_forward = 1\nnet.ipv4.conf.eth0.100.rp_filter = 2\n# x\n');
  expect(s).toEqual({ 'net/ipv4/ip_forward': '1', 'net/ipv4/conf/eth0.100/rp_filter': '2' });
  expect(() => readSysctlText('no equals sign', 'sys.txt')).toThrow(/sys.txt:1:1/);
  const ip = { ...capture('router'), sysctls: s };
  const node = topologyFromIpJson(ip).spec.hosts.find((h) => h.name === 'node')!;
  expect(node.sysctls?.ip_forward).toBe(true);
});

test('an ip capture is told from a topology, and its frame is checked with the JSON path', () => {
  expect(isIpCapture({ link: [], addr: [] })).toBe(true);
  expect(isIpCapture({ name: 'x', hosts: [] })).toBe(false);
  expect(() => checkIpCapture({ link: {}, addr: [] }, new JsonChecker('c.json'))).toThrow(/link/);
  expect(() => checkIpCapture({ link: [], addr: [], extra: 1 }, new JsonChecker('c.json'))).toThrow(/extra/);
});

test(
  '--topology takes an ip capture file, or a folder of link.json, addr.json, route.json and' + ' sysctl.txt',
  async () => {
    const fromFile = loadTopologySpec(join(TOPO, 'docker-host.ip.json'));
    expect(fromFile.hosts.map((h) => h.name)).toContain('node-pod-veth0a1b2c3');
    const dir = mkdtempSync(join(tmpdir(), 'nfc-ipjson-'));
    const raw = JSON.parse(readFileSync(join(TOPO, 'router.ip.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['link', 'addr', 'route']) writeFileSync(join(dir, `${k}.json`), JSON.stringify(raw[k]));
    writeFileSync(join(dir, 'sysctl.txt'), 'net.ipv4.ip_forward = 1\n');
    const spec = loadTopologySpec(dir);
    expect(spec.hosts.find((h) => h.name === 'node')?.sysctls?.ip_forward).toBe(true);
    // a LAN host reaches the internet through the router
    let out = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
    expect(
      await main(['trace', '--topology', dir, '--from', 'node-nb-eth1', '--json', 'tcp', '203.0.113.1:8080'], io),
    ).toBe(0);
    const r = JSON.parse(out) as { results: { observation: { outcome: string; responder: string } }[] };
    expect(r.results[0]!.observation).toMatchObject({ outcome: 'delivered', responder: 'node-nb-eth0' });
    writeFileSync(join(dir, 'addr.json'), '{}');
    out = '';
    expect(await main(['trace', '--topology', dir, '--from', 'node', 'tcp', '1.2.3.4:80'], io)).toBe(2);
    expect(out).toMatch(/addr\.json.*a JSON array/);
  },
);

test('a case file names its topology with topologyFile, relative to it; not together with topology', () => {
  const file = fileURLToPath(new URL('../../suites/realworld/cases/x.json', import.meta.url));
  const steps = [{ from: 'node-nb-eth0', proto: 'icmp', dst: '10.244.1.11' }];
  const c = checkCase({ name: 'x', topologyFile: '../topologies/pod.ip.json', steps }, file);
  expect(typeof c.topology === 'object' && c.topology.hosts.map((h) => h.name)).toEqual(['node', 'node-nb-eth0']);
  expect(() =>
    checkCase({ name: 'x', topology: 'k8s-node', topologyFile: '../topologies/pod.ip.json', steps }, file),
  ).toThrow(/either "topology" or "topologyFile"/);
  expect(() => checkCase({ name: 'x', topologyFile: '/etc/passwd', steps }, file)).toThrow(
    /outside the case file's folder/,
  );
});

test('the Docker ruleset on the k8s-node preset: warnings name its bridges and the container it DNATs to', () => {
  const rs = parseRuleset(readFileSync(join(RULES, 'docker-usernet-portmap.rules'), 'utf8'), { file: 'docker.rules' });
  const onPreset = rulesetWarnings(compileTopology(k8sNode()), 'node', rs);
  expect(onPreset.map((w) => [w.kind, w.name])).toEqual([
    ['interface', 'bridge1'],
    ['interface', 'docker0'],
    ['address', '192.0.2.2'],
  ]);
  expect(onPreset[0]!.message).toMatch(/docker\.rules:\d+ and 9 more rules$/);
  // on the Docker host's own topology nothing is missing
  const own = compileTopology(topologyFromIpJson(capture('docker-host')).spec);
  expect(rulesetWarnings(own, 'node', rs)).toEqual([]);
});

test('warnings skip wildcards that match, loopback, and addresses rules only translate away or refuse', () => {
  const rs = parseRuleset(
    [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A FORWARD -i veth+ -j ACCEPT',
      '-A FORWARD -o wg+ -j ACCEPT',
      '-A INPUT -d 127.0.0.1/32 -j ACCEPT',
      '-A INPUT -d 10.96.0.100/32 -p tcp -j REJECT',
      '-A FORWARD -d 10.244.1.99/32 -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
    { file: 'r' },
  );
  const w = rulesetWarnings(compileTopology(k8sNode()), 'node', rs);
  expect(w.map((x) => [x.kind, x.name])).toEqual([
    ['interface', 'wg+'],
    ['address', '10.244.1.99'],
  ]);
});

test('trace and check say first what the rules name that the topology lacks; a fitting topology, nothing', async () => {
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
  const docker = join(RULES, 'docker-usernet-portmap.rules');
  expect(
    await main(['trace', '--ruleset', `node=${docker}`, '--from', 'client', 'tcp', '192.168.50.10:8080'], io),
  ).toBe(0);
  expect(out.split('\n')[0]).toMatch(/^warning: node's rules name interface bridge1, which node does not have/);
  expect(out).toMatch(/warning: node's rules name 192\.0\.2\.2 \(a DNAT destination\), which no host/);
  out = '';
  const args = ['trace', '--topology', join(TOPO, 'docker-host.ip.json'), '--ruleset', `node=${docker}`, '--json'];
  expect(await main([...args, '--from', 'node-nb-eth0', 'tcp', '203.0.113.10:8080'], io)).toBe(0);
  expect((JSON.parse(out) as { warnings?: string[] }).warnings).toBeUndefined();
  // check: the same corpus case on the preset instead of its own host
  const dir = mkdtempSync(join(tmpdir(), 'nfc-warn-'));
  const c = join(dir, 'case.json');
  writeFileSync(
    c,
    JSON.stringify({
      name: 'docker on the preset',
      topology: 'k8s-node',
      hosts: { node: { ruleset: readFileSync(docker, 'utf8') } },
      steps: [{ from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090 }],
    }),
  );
  out = '';
  expect(await main(['check', c, '--sides', 'model'], io)).toBe(0);
  expect(out).toMatch(/warning: docker on the preset: node's rules name interface docker0/);
});
