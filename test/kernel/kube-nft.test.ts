// kube-proxy's nftables mode on the kernel: what `compile --mode nftables` writes loads in real nft and lists
// as the model prints it, and every Service suite runs in nftables mode, judged by its expectations (its
// `expectNftables` where the modes differ) and the Service-level oracle (spec/kube.md §2a).
import { describe, test, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadCase, findCaseFiles, type CaseFile } from '../../src/conform/case-file.ts';
import { runCases, LabPool } from '../../src/conform/run-case.ts';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNodeNft } from '../../src/kube/compile-nft.ts';
import { KUBE_PROXY_VERSIONS } from '../../src/kube/kube-proxy-version.ts';
import { existingFromDump } from '../../src/conform/nft-existing.ts';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { k8sNode } from '../../src/model/index.ts';
import { SUITES_DIR } from '../../src/conform/case-file.ts';
import { K8S_NODE_LAYOUT } from '../../src/kube/oracle.ts';
import { parseNft, printNft } from '../../src/model/index.ts';
import { judgeNft, nftJudgeSkipReason } from '../../src/lab/nft-judge.ts';
import { skipReason, kernelDescribe } from './env.ts';

const serviceCases = findCaseFiles()
  .map(loadCase)
  .filter((c): c is CaseFile & { services: NonNullable<CaseFile['services']> } => c.services !== undefined);

/** every Services file the suites use, compiled for each node of the lab in nftables mode, in the shape of each
 *  kube-proxy release the compiler writes (kube-proxy-version.ts) */
function compiledTexts(): { name: string; text: string }[] {
  const seen = new Set<string>();
  const out: { name: string; text: string }[] = [];
  for (const c of serviceCases) {
    const file = resolve(dirname(c.file!), c.services.file);
    if (seen.has(file)) continue;
    seen.add(file);
    const cluster = readCluster(readFileSync(file, 'utf8'), file);
    for (const n of K8S_NODE_LAYOUT.nodes)
      for (const kubeProxyVersion of KUBE_PROXY_VERSIONS)
        out.push({
          name: `${file} for ${n.name} (kube-proxy ${kubeProxyVersion})`,
          text: compileNodeNft(cluster, {
            nodeName: n.name,
            clusterCIDR: c.services.clusterCIDR,
            nodeIPs: [...n.addresses],
            kubeProxyVersion,
          }),
        });
  }
  return out;
}

const nftSkip = nftJudgeSkipReason();
describe.skipIf(nftSkip)(
  `kernel: compile --mode nftables against real nft${nftSkip ? ` [skipped: ${nftSkip}]` : ''}`,
  () => {
    test("every suite's Services, for every node: real nft loads it and lists it as the model prints it", async () => {
      const texts = compiledTexts();
      expect(texts.length).toBeGreaterThanOrEqual(40);
      const verdicts = await judgeNft(texts.map((t) => t.text));
      let compared = 0;
      texts.forEach((t, i) => {
        const v = verdicts[i]!;
        expect(v.stderr, t.name).toBe('');
        expect(v.ok, t.name).toBe(true);
        // ClientIP affinity's sets too (spec/nft.md §3): freshly loaded, they hold no element yet
        const model = printNft(parseNft(t.text, { file: t.name }));
        expect(model, t.name).toBe(v.listing);
        compared++;
      });
      expect(compared).toBe(texts.length);
      expect(texts.some((t) => t.text.includes('update @affinity-'))).toBe(true);
      // 1.36's squashed endpoint chains and hairpin set were among them
      expect(texts.some((t) => /dnat ip to numgen random mod \d+ map \{/.test(t.text))).toBe(true);
      expect(texts.some((t) => /add element ip kube-proxy hairpin-connections /.test(t.text))).toBe(true);
    }, 300_000);
  },
);

// both shapes a cluster may run (kube-proxy-version.ts): the newest (the default) and 1.33-1.35's
for (const kubeProxyVersion of KUBE_PROXY_VERSIONS)
  describe.skipIf(skipReason)(
    kernelDescribe(`kernel: every Service suite in nftables mode (kube-proxy ${kubeProxyVersion})`),
    () => {
      const pool = new LabPool();
      afterAll(async () => {
        await pool.close();
      });
      test('there are Service suites to run', () => {
        expect(serviceCases.length).toBeGreaterThanOrEqual(30);
      });
      for (const c of serviceCases) {
        test(c.name, async () => {
          const [r] = await runCases([c], { sides: 'kernel', mode: 'nftables', kubeProxyVersion, pool });
          if (!r) throw new Error('no report');
          const problems = r.steps.flatMap((s) => [
            ...s.kernelMisses.map((m) => `${s.label}: kernel ${m}`),
            ...s.oracleMisses.map((m) => `${s.label}: oracle ${m}`),
          ]);
          expect(r.error ?? null).toBeNull();
          expect(problems).toEqual([]);
          expect(r.kernel).toBe('pass');
          // the oracle judged (a case whose probes it says nothing about has expectations instead)
          expect(r.steps.length).toBeGreaterThan(0);
        });
      }
    },
  );

describe.skipIf(skipReason)(kernelDescribe('kernel: an nftables-mode resync deletes what went away'), () => {
  let lab: KernelLab | undefined;
  afterAll(async () => {
    await lab?.down();
  });
  const cluster = (f: string) => readCluster(readFileSync(`${SUITES_DIR}fixtures/${f}`, 'utf8'), f);
  const config = { nodeName: 'node', clusterCIDR: '10.244.0.0/16' };

  test('stale endpoint chains emptied, then deleted a resync later; stale affinity sets deleted at once', async () => {
    lab = await KernelLab.up(k8sNode());
    let model = parseNft(compileNodeNft(cluster('affinity-three-endpoints.json'), config), { file: 'a.nft' });
    expect((await lab.applyNft('node', compileNodeNft(cluster('affinity-three-endpoints.json'), config))).ok).toBe(
      true,
    );
    const counts: [number, number, number][] = [];
    for (const step of ['first resync', 'second resync']) {
      // what the node holds, read from the kernel's own listing, as kube-proxy lists its chains and sets
      const listed = await lab.listNft('node');
      expect(printNft(model), step).toBe(listed);
      const text = compileNodeNft(cluster('affinity-one-endpoint.json'), config, existingFromDump(listed, step));
      const r = await lab.applyNft('node', text);
      expect([r.ok, r.stderr], step).toEqual([true, '']);
      model = parseNft(text, { file: step, base: model });
      const t = parseNft(await lab.listNft('node')).tables.get('ip kube-proxy')!;
      const eps = [...t.chains.values()].filter((c) => c.name.startsWith('endpoint-'));
      counts.push([
        eps.length,
        eps.filter((c) => c.rules.length === 0).length,
        [...t.sets.keys()].filter((n) => n.startsWith('affinity-')).length,
      ]);
    }
    // [endpoint chains, of them empty, affinity sets]
    expect(counts).toEqual([
      [3, 2, 1],
      [1, 0, 1],
    ]);
    expect(printNft(model)).toBe(await lab.listNft('node'));
  });

  test('compile --existing: from node.nft (a real listing), each resync loads and lists as the model', async () => {
    lab ??= await KernelLab.up(k8sNode());
    const fixture = readFileSync(`${SUITES_DIR}fixtures/node.nft`, 'utf8');
    // the node starts from the fixture's table alone
    expect((await lab.applyNft('node', `add table ip kube-proxy\ndelete table ip kube-proxy\n${fixture}`)).ok).toBe(
      true,
    );
    let model = parseNft(fixture, { file: 'node.nft' });
    const deleted: string[][] = [];
    for (const step of ['first resync', 'second resync', 'third resync']) {
      const listed = await lab.listNft('node');
      expect(printNft(model), step).toBe(listed);
      const text = compileNodeNft(cluster('affinity-one-endpoint.json'), config, existingFromDump(listed, step));
      const r = await lab.applyNft('node', text);
      expect([r.ok, r.stderr], step).toEqual([true, '']);
      model = parseNft(text, { file: step, base: model });
      deleted.push(
        text
          .split('\n')
          .filter((l) => l.startsWith('delete '))
          .map((l) => l.split(' ')[1]!),
      );
    }
    // affinity sets at the first resync, the emptied per-Service chains at the second, nothing at the third
    expect(deleted[0]!.length).toBeGreaterThan(0);
    expect(new Set(deleted[0])).toEqual(new Set(['set']));
    expect(deleted[1]!.length).toBeGreaterThan(5);
    expect(new Set(deleted[1])).toEqual(new Set(['chain']));
    expect(deleted[2]).toEqual([]);
    expect(printNft(model)).toBe(await lab.listNft('node'));
  });
});
