// validate of an nftables-mode dump on the kernel: the fixture loaded with `nft -f` in a lab built to match
// the node; the hand-broken copy fails there where it was broken (suites/fixtures/README.md). And
// `validate --snapshot` of a live node running kube-proxy's nft table: read back with `nft list ruleset`.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { k8sNode, parseNft, printNft } from '../../src/model/index.ts';
import { SUITES_DIR } from '../../src/conform/case-file.ts';
import { main } from '../../src/cli/cli.ts';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';
import { skipReason, kernelDescribe } from './env.ts';
import { judgeNft } from '../../src/lab/nft-judge.ts';

/** A correct dump: the kernel ran, every Service passed, over 60 kernel probes passed and none failed. */
function expectEveryServicePasses(r: Awaited<ReturnType<typeof validateNode>>): void {
  expect(r.kernel).toBe('ran');
  expect(
    r.services
      .filter((s) => s.status !== 'pass')
      .map((s) => [s.service, s.status, s.failure?.kernelMiss ?? s.failure?.modelMiss ?? s.reason]),
  ).toEqual([]);
  expect(r.probes.filter((p) => p.kernel === 'pass').length).toBeGreaterThan(60);
  expect(r.probes.filter((p) => p.kernel === 'fail')).toEqual([]);
}

describe.skipIf(skipReason)(kernelDescribe('kernel: validate an nftables-mode node dump'), () => {
  test('the fixture dump passes on the model and the kernel, every probed Service with probes', async () => {
    const r = await validateNode({ ...validateInput('node.nft'), sides: 'both' });
    expectEveryServicePasses(r);
  });

  test("a node's own `nft list ruleset` and `nft -j list ruleset` of the fixture validate alike", async () => {
    const [v] = await judgeNft([validateInput('node.nft').rulesetText], { json: true });
    expect(v!.ok).toBe(true);
    for (const text of [v!.listing, v!.json!]) {
      const r = await validateNode({ ...validateInput('node.nft'), rulesetText: text, sides: 'model' });
      expect(r.services.filter((s) => s.status !== 'pass').map((s) => s.service)).toEqual([]);
      expect(r.settings.proxyMode).toBe('nftables');
      expect(r.sent).toBeGreaterThan(60);
    }
  });

  test('the hand-broken copy fails on the kernel where it was broken', async () => {
    const r = await validateNode({ ...validateInput('node-broken.nft'), sides: 'kernel' });
    const failed = r.services.filter((s) => s.status === 'fail');
    // default/web's wrong port is one endpoint of two: each kernel probe (one connection) meets it with p=1/2, so
    // the few probes of it may all miss it (the model, which follows every branch, always fails it)
    expect(['default/web,default/itl', 'default/itl']).toContain(failed.map((s) => s.service).join(','));
    for (const f of failed) expect(f.failure!.kernelMiss).toMatch(/kernel: refused/);
    expect(failed.at(-1)!.failure!.kernelMiss).toMatch(/kernel: refused .* the Services say: dropped/);
    expect(r.warnings.length).toBe(5);
  });

  test(
    'kube-proxy 1.36 (node-136.nft: squashed endpoint chains, the hairpin set): nft lists it as the model;' +
      ' it passes on both',
    async () => {
      const dump = validateInput('node-136.nft').rulesetText;
      const [v] = await judgeNft([dump]);
      expect([v!.ok, v!.listing]).toEqual([true, printNft(parseNft(dump, { file: 'node-136.nft' }))]);
      expect(v!.listing).toBe(dump);
      const r = await validateNode({ ...validateInput('node-136.nft'), sides: 'both' });
      expectEveryServicePasses(r);
      expect(r.warnings).toEqual([]);
    },
  );

  test('its hand-broken copy fails on the kernel where it was broken (a lost map element, a wrong port)', async () => {
    const r = await validateNode({ ...validateInput('node-136-broken.nft'), sides: 'kernel' });
    expect(r.kernel).toBe('ran');
    const failed = r.services.filter((s) => s.status === 'fail');
    // default/web's lost element is one draw of two (p=1/2 a connection: see above); np and itl fail whatever
    expect(['default/web,default/np,default/itl', 'default/np,default/itl']).toContain(
      failed.map((s) => s.service).join(','),
    );
    for (const f of failed) expect(f.failure!.kernelMiss).toMatch(/kernel: refused/);
    expect(r.warnings.length).toBe(4);
  });
});

describe.skipIf(skipReason)(kernelDescribe('kernel: validate --snapshot of a live nftables-mode node'), () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfc-snapshot-nft-'));
  let lab: KernelLab;
  beforeAll(async () => {
    lab = await KernelLab.up(k8sNode());
  });
  afterAll(async () => {
    await lab?.down();
  });
  const cli = async (args: string[]): Promise<{ code: number; out: string }> => {
    let out = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
    return { code: await main(args, io), out };
  };
  /** the node's namespace loaded with a fixture dump (and an iptables-nft rule beside it), snapshotted and
   *  validated from the snapshot alone */
  const validateLive = async (
    dump: string,
    sides: 'model' | 'both',
    xt = '*filter\n-A INPUT -p tcp -m tcp --dport 9999 -m comment --comment other -j ACCEPT\nCOMMIT\n',
    nft?: string,
  ) => {
    await lab.reset();
    const text = readFileSync(join(SUITES_DIR, 'fixtures', dump), 'utf8');
    if (dump.endsWith('.nft')) expect((await lab.applyNft('node', text)).ok).toBe(true);
    else expect((await lab.apply('node', text, 'nft')).ok).toBe(true);
    // iptables-nft's own table is in `nft list ruleset` too: it is not part of the nft dump, but evaluated beside it
    if (xt) expect((await lab.apply('node', xt, 'nft')).ok).toBe(true);
    if (nft) expect((await lab.applyNft('node', nft)).ok).toBe(true);
    const f = join(dir, `${dump}.json`);
    expect((await cli(['snapshot', '--netns', lab.ns.get('node')!, '-o', f])).code).toBe(0);
    const snap = JSON.parse(readFileSync(f, 'utf8')) as { nft: string | null };
    if (dump.endsWith('.nft')) expect(snap.nft).toContain('table ip kube-proxy {');
    expect(snap.nft).toContain(dump.endsWith('.nft') ? 'table ip filter {' : 'table inet fw {');
    const services = join(SUITES_DIR, 'fixtures', 'services.json');
    const r = await cli([
      'validate',
      ...['--services', services, '--snapshot', f, '--node', 'node', '--sides', sides, '--json'],
    ]);
    const report = JSON.parse(r.out) as {
      settings: { proxyMode?: string };
      warnings: { table: string; chain: string; why: string }[];
      sent: number;
      kernel: string;
      probes: { kernel?: string }[];
      services: { service: string; status: string }[];
    };
    return { code: r.code, report };
  };

  test('the fixture loaded on the node passes on the model and the kernel, judged as nftables mode', async () => {
    const { code, report } = await validateLive('node.nft', 'both');
    expect(report.settings.proxyMode).toBe('nftables');
    expect(report.services.filter((s) => s.status === 'fail')).toEqual([]);
    expect(report.sent).toBeGreaterThan(60);
    // the snapshot's listing loads in a lab built to match the node, and every probe passes there too
    expect(report.kernel).toBe('ran');
    expect(report.probes.filter((p) => p.kernel === 'fail')).toEqual([]);
    expect(report.probes.filter((p) => p.kernel === 'pass').length).toBeGreaterThan(60);
    expect(code).toBe(0);
  });

  test('the hand-broken copy loaded on the node fails where it was broken', async () => {
    const { code, report } = await validateLive('node-broken.nft', 'model');
    expect(report.settings.proxyMode).toBe('nftables');
    expect(report.services.filter((s) => s.status === 'fail').map((s) => s.service)).toEqual([
      'default/web',
      'default/itl',
    ]);
    expect(code).toBe(1);
  });

  test('a live kube-proxy 1.36 node (node-136.nft loaded) passes on the model and the kernel', async () => {
    const { code, report } = await validateLive('node-136.nft', 'both');
    expect(report.settings.proxyMode).toBe('nftables');
    expect(report.services.filter((s) => s.status !== 'pass')).toEqual([]);
    expect(report.kernel).toBe('ran');
    expect(report.probes.filter((p) => p.kernel === 'fail')).toEqual([]);
    expect(report.probes.filter((p) => p.kernel === 'pass').length).toBeGreaterThan(60);
    expect(code).toBe(0);
  });

  test("iptables rules beside kube-proxy's table count: a FORWARD drop of pod3 fails its Services", async () => {
    const xt = '*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -d 10.244.2.13/32 -j DROP\nCOMMIT\n';
    const { code, report } = await validateLive('node.nft', 'both', xt);
    expect(report.settings.proxyMode).toBe('nftables');
    expect(report.services.filter((s) => s.status === 'fail').map((s) => s.service)).toEqual([
      'default/web',
      'default/local',
    ]);
    // the kernel, given the snapshot's rules of both kinds, fails the same probes the model fails
    expect(report.kernel).toBe('ran');
    const kernelFails = report.probes.filter((p) => p.kernel === 'fail');
    expect(kernelFails.length).toBeGreaterThan(0);
    expect(report.warnings.some((w) => w.table === 'filter' && w.chain === 'FORWARD')).toBe(true);
    expect(code).toBe(1);
  });

  test("a native nft table beside kube-proxy's iptables rules is evaluated too", async () => {
    const nft =
      'table inet fw {\n\tchain fw_forward {\n\t\ttype filter hook forward priority 0; policy accept;\n' +
      '\t\tip daddr 10.244.2.13 drop\n\t}\n}\n';
    const { code, report } = await validateLive('node.iptables-save', 'both', '', nft);
    expect(report.settings.proxyMode).toBeUndefined();
    expect(report.services.filter((s) => s.status === 'fail').map((s) => s.service)).toEqual([
      'default/web',
      'default/local',
    ]);
    expect(report.kernel).toBe('ran');
    expect(report.probes.filter((p) => p.kernel === 'fail').length).toBeGreaterThan(0);
    expect(report.warnings.some((w) => w.table === 'inet fw')).toBe(true);
    expect(code).toBe(1);
  });
});
