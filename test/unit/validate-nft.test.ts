// validate of an nftables-mode dump on the model: the fixture passes, the hand-broken copy fails as
// suites/fixtures/README.md says, the settings come off the parsed ruleset.
import { describe, test, expect } from 'vitest';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNodeNft } from '../../src/kube/compile-nft.ts';
import { nftDumpSettings } from '../../src/kube/nft-dump.ts';
import { readNftDump } from '../../src/conform/validate-nft.ts';
import { nftDumpVariants } from '../../src/conform/dump-variants-nft.ts';

const parsed = (text: string) => readNftDump(text, 'node.nft').ruleset;

const input = validateInput('node.nft');
const cluster = readCluster(input.servicesText, input.servicesFile);

describe('validate an nft dump (model)', () => {
  test('the fixture dump passes for every Service, probes sent, no warnings; read as nftables mode', async () => {
    const r = await validateNode({ ...input, sides: 'model' });
    expect(r.services.filter((s) => s.status !== 'pass').map((s) => [s.service, s.status, s.reason])).toEqual([]);
    // ClientIP affinity's dynamic sets are in the model: the sticky Services are judged too, a second connection
    expect(r.probes.some((p) => p.service === 'default/sticky' && /sticks/.test(p.label) && p.model === 'pass')).toBe(
      true,
    );
    expect(r.unsupported).toEqual([]);
    expect(r.sent).toBeGreaterThan(40);
    for (const s of r.services)
      if (s.status === 'pass' && !/headless|ext$/.test(s.service)) expect(s.probes).toBeGreaterThan(0);
    expect(r.warnings).toEqual([]);
    expect(r.settings).toMatchObject({ proxyMode: 'nftables', masqueradeMark: '0x00004000', missingJumps: [] });
    expect(r.clusterCIDR).toBe('10.244.0.0/16');
  });

  test('the hand-broken copy fails where it was broken, and its leftovers are warned about', async () => {
    const r = await validateNode({ ...validateInput('node-broken.nft'), sides: 'model' });
    const failed = r.services.filter((s) => s.status === 'fail');
    expect(failed.map((s) => s.service)).toEqual(['default/web', 'default/itl']);
    const web = failed[0]!.failure!;
    expect(web.probe).toMatchObject({ dst: '10.96.0.100', dport: 80 });
    expect(web.modelMiss).toMatch(/model: refused/);
    // the explanation is the failing branch: the DNAT to the wrong port
    expect(web.modelTrace!.some((e) => e.kind === 'rule' && /10\.244\.1\.11:8081/.test(`${e.spec} ${e.action}`))).toBe(
      true,
    );
    expect(failed[1]!.failure!.modelMiss).toMatch(/model: refused .* the Services say: dropped/);
    expect(r.services.filter((s) => s.status === 'unsupported')).toEqual([]);
    const why = r.warnings.map((w) => `${w.text} :: ${w.why}`);
    expect(why).toEqual([
      expect.stringMatching(/filter-input: ip saddr 198\.51\.100\.0\/24 drop :: .*foreign rule/),
      expect.stringMatching(
        /service-OLDSVC23-default\/old\/tcp\/http :: for Service default\/old, which does not exist/,
      ),
      expect.stringMatching(/endpoint-STALE234-default\/old\/.* :: for Service default\/old, which does not exist/),
      expect.stringMatching(/endpoint-STALE567-default\/web\/.* :: nothing jumps to it/),
      expect.stringMatching(/element service-ips \{ 10\.96\.0\.250 \. tcp \. 80 \} :: .*no Service's address/),
    ]);
  });

  test('what the model does not support is left out item by item and listed; its Service is unsupported', async () => {
    // a rate limit in one of default/web's chains, a set property in a fixed set: web alone, then every Service
    const inWeb = input.rulesetText.replace(
      /(chain service-SUSTUHLJ-default\/web\/tcp\/http \{\n)/,
      '$1\t\tlimit rate 10/second accept\n',
    );
    expect(inWeb).not.toBe(input.rulesetText);
    const r = await validateNode({ ...input, rulesetText: inWeb, sides: 'model' });
    expect(r.unsupported.map((u) => [u.text, u.reason])).toEqual([
      ['limit rate 10/second accept', '"limit rate" (left out)'],
    ]);
    expect(r.services.filter((s) => s.status !== 'pass').map((s) => [s.service, s.status])).toEqual([
      ['default/web', 'unsupported'],
    ]);
    const shared = input.rulesetText.replace(/(chain services \{\n)/, '$1\t\tlimit rate 10/second accept\n');
    const all = await validateNode({ ...input, rulesetText: shared, sides: 'model' });
    expect(all.services.filter((s) => s.status !== 'unsupported')).toEqual([]);
  });

  test('--mode nftables reads the dump as nft; --mode iptables refuses it with its line', async () => {
    const r = await validateNode({ ...input, mode: 'nftables', sides: 'model' });
    expect(r.settings.proxyMode).toBe('nftables');
    await expect(validateNode({ ...input, mode: 'iptables', sides: 'model' })).rejects.toThrow(/node\.nft:\d+:\d+/);
  });

  test('a base chain without its jump into services is warned about, and the path it carried fails', async () => {
    const text = input.rulesetText.replace(/(chain nat-output \{\n[^\n]*\n)\t\tjump services\n/, '$1');
    expect(text).not.toBe(input.rulesetText);
    const r = await validateNode({ ...input, rulesetText: text, sides: 'model' });
    expect(r.warnings.map((w) => w.text)).toEqual(['ip kube-proxy nat-output -> services']);
    // the node's own connections to ClusterIPs are no longer DNATed
    expect(r.services.some((s) => s.status === 'fail' && /from node/.test(s.failure!.label))).toBe(true);
  });

  test('the settings kube-proxy ran with, read off the parsed ruleset', () => {
    const read = (config: Parameters<typeof compileNodeNft>[1]) =>
      nftDumpSettings(parsed(compileNodeNft(cluster, config)));
    expect(read({ nodeName: 'node', clusterCIDR: '10.244.0.0/16' }).detector).toEqual({
      mode: 'ClusterCIDR',
      cidr: '10.244.0.0/16',
    });
    expect(read({ nodeName: 'node', masqueradeAll: true })).toMatchObject({ masqueradeAll: true });
    expect(read({ nodeName: 'node', detectLocal: { mode: 'InterfaceNamePrefix', prefix: 'cali' } }).detector).toEqual({
      mode: 'Interface',
      iface: 'cali+',
    });
    expect(read({ nodeName: 'node' }).detector).toEqual({ mode: 'None' });
    const np = read({ nodeName: 'node', nodeIPs: ['192.168.50.10'], nodePortAddresses: ['primary'] });
    expect(np.nodePortAddresses).toEqual(['192.168.50.10/32']);
    const marked = compileNodeNft(cluster, { nodeName: 'node' }).replace(
      'meta mark set meta mark | 0x00004000',
      'meta mark set meta mark | 0x00008000',
    );
    expect(nftDumpSettings(parsed(marked)).markMismatch).toMatch(/sets 0x00008000, masquerading tests 0x00004000/);
  });
});

describe('nft dump variants (npm run validate-power)', () => {
  test('every rule and every element deleted in turn, each variant one element or rule fewer', () => {
    const vs = nftDumpVariants(input.rulesetText, 'node.nft');
    const rules = vs.filter((v) => v.id.startsWith('delete line'));
    const elements = vs.filter((v) => v.id.startsWith('delete element'));
    expect(rules.length).toBeGreaterThan(60);
    const count = (t: string) => {
      const rs = parsed(t);
      const k = [...rs.tables.values()][0]!;
      return (
        [...k.chains.values()].reduce((n, c) => n + c.rules.length, 0) +
        [...k.sets.values()].reduce((n, s) => n + s.elements.length, 0)
      );
    };
    const all = count(input.rulesetText);
    // every element of every set, also where nft lists two a line (cluster-ips)
    expect(elements.length).toBe(all - rules.filter((v) => v.kind === 'delete').length);
    for (const v of [...rules.slice(0, 5), ...elements]) expect(count(v.text)).toBe(all - 1);
    expect(elements.find((v) => v.id === 'delete element cluster-ips { 10.96.0.10 }')?.before.trim()).toBe(
      'elements = { 10.96.0.10, 10.96.0.100,',
    );
    // the reasoned equivalences: a ClusterIP's reject for "no endpoints", which cluster-ips-check repeats
    expect(vs.filter((v) => v.equivalent).map((v) => v.before.trim())).toEqual([
      'elements = { 10.96.0.101 . tcp . 80 comment "default/empty:http" : goto reject-chain,',
      'reject',
    ]);
  });

  test('a numgen-keyed DNAT map (kube-proxy 1.36): each element its wrong port, the modulus one too large', () => {
    const text = validateInput('node-136.nft').rulesetText;
    const line =
      'meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.244.1.11 . 8080, 1 : 10.244.2.13 . 8080 }';
    const at = text.split('\n').findIndex((l) => l.trim() === line) + 1;
    expect(at).toBeGreaterThan(0);
    const here = nftDumpVariants(text, 'node-136.nft').filter((v) => v.line === at && v.kind !== 'delete');
    expect(here.map((v) => [v.kind, v.after?.trim()])).toEqual([
      ['probability', line.replace('mod 2', 'mod 3')],
      ['dnat-port', line.replace('10.244.1.11 . 8080', '10.244.1.11 . 8081')],
      ['dnat-port', line.replace('10.244.2.13 . 8080', '10.244.2.13 . 8081')],
    ]);
    // each a dump nft's parser reads
    for (const v of here) expect(() => parsed(v.text)).not.toThrow();
  });
});

describe('a kube-proxy 1.36 node (node-136.nft: the hairpin set, inline marks, squashed endpoint chains)', () => {
  // `compile --mode nftables --kube-proxy-version 1.36` of services.json, loaded and listed by nft 1.0.6
  const input136 = validateInput('node-136.nft');
  const dump = input136.rulesetText;

  test('its settings come off the `services` rule and the masquerading rule, with no warning', () => {
    const s = nftDumpSettings(parsed(dump));
    expect(s).toMatchObject({
      detector: { mode: 'ClusterCIDR', cidr: '10.244.0.0/16' },
      masqueradeAll: false,
      masqueradeMark: '0x00004000',
      missingJumps: [],
    });
    expect(s.markMismatch).toBeUndefined();
    const all = nftDumpSettings(parsed(dump.replace(' ip saddr != 10.244.0.0/16 meta mark set', ' meta mark set')));
    expect(all.masqueradeAll).toBe(true);
    // without a detector: neither that rule nor the external chains' short circuit of pod traffic
    const none = nftDumpSettings(
      parsed(
        dump
          .replace(/\n\t\tip daddr @cluster-ips ip saddr .*/, '')
          .replace(/\n\t\tip saddr 10\.244\.0\.0\/16 goto .*/g, ''),
      ),
    );
    expect(none.detector).toEqual({ mode: 'None' });
    expect(none.masqueradeMark).toBe('0x00004000');
  });

  test('every Service passes on the model: the endpoints read off the numgen maps, hairpin and affinity', async () => {
    expect(dump).toMatch(/dnat ip to numgen random mod 2 map \{ 0 : 10\.244\.1\.11 \. 8080, 1 : 10\.244\.2\.13/);
    expect(dump).not.toContain('mark-for-masquerade');
    const r = await validateNode({ ...input136, sides: 'model' });
    expect(r.services.filter((s) => s.status !== 'pass').map((s) => [s.service, s.status, s.reason])).toEqual([]);
    expect(r.unsupported).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.sent).toBeGreaterThan(60);
    expect(r.probes.some((p) => p.service === 'default/sticky' && /sticks/.test(p.label) && p.model === 'pass')).toBe(
      true,
    );
  });

  test('the hand-broken copy (node-136-broken.nft) fails where it was broken; leftovers are warned about', async () => {
    const r = await validateNode({ ...validateInput('node-136-broken.nft'), sides: 'model' });
    const failed = r.services.filter((s) => s.status === 'fail');
    expect(failed.map((s) => s.service)).toEqual(['default/web', 'default/np', 'default/itl']);
    // default/web's map lost 10.244.2.13's element: a connection that draws it is not DNATed, and refused
    expect(failed[0]!.failure!.modelMiss).toMatch(/model: .*refused - \(p=0\.500\)/);
    // default/np's element DNATs to port 8081, where nothing listens
    expect(failed[1]!.failure!.modelMiss).toMatch(/model: refused - \(p=1\.000\)/);
    expect(
      failed[1]!.failure!.modelTrace!.some((e) => e.kind === 'rule' && /10\.244\.1\.12 \. 8081/.test(e.spec)),
    ).toBe(true);
    expect(failed[2]!.failure!.modelMiss).toMatch(/model: refused .* the Services say: dropped/);
    expect(r.services.filter((s) => s.status === 'unsupported')).toEqual([]);
    expect(r.warnings.map((w) => `${w.text} :: ${w.why}`)).toEqual([
      expect.stringMatching(/filter-input: ip saddr 198\.51\.100\.0\/24 drop :: .*foreign rule/),
      expect.stringMatching(
        /service-OLDSVC23-default\/old\/tcp\/http :: for Service default\/old, which does not exist/,
      ),
      expect.stringMatching(/endpoint-STALE567-default\/web\/.* :: nothing jumps to it/),
      expect.stringMatching(/element service-ips \{ 10\.96\.0\.250 \. tcp \. 80 \} :: .*no Service's address/),
    ]);
  });

  test('without the hairpin set element, a pod reaching itself through its Service fails', async () => {
    const broken = dump.replace(/elements = \{ 10\.244\.1\.11 \. 10\.244\.1\.11 \. tcp \. 8080,\n\s*/, 'elements = { ');
    expect(broken).not.toBe(dump);
    const r = await validateNode({ ...input136, rulesetText: broken, sides: 'model' });
    expect(r.services.filter((s) => s.status === 'fail').length).toBeGreaterThan(0);
  });
});
