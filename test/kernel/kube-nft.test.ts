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
import { K8S_NODE_LAYOUT } from '../../src/kube/oracle.ts';
import { parseNft, printNft } from '../../src/model/index.ts';
import { judgeNft, nftJudgeSkipReason } from '../../src/lab/nft-judge.ts';
import { skipReason, kernelDescribe } from './env.ts';

const serviceCases = findCaseFiles()
  .map(loadCase)
  .filter((c): c is CaseFile & { services: NonNullable<CaseFile['services']> } => c.services !== undefined);

/** every Services file the suites use, compiled for each node of the lab in nftables mode */
function compiledTexts(): { name: string; text: string }[] {
  const seen = new Set<string>();
  const out: { name: string; text: string }[] = [];
  for (const c of serviceCases) {
    const file = resolve(dirname(c.file!), c.services.file);
    if (seen.has(file)) continue;
    seen.add(file);
    const cluster = readCluster(readFileSync(file, 'utf8'), file);
    for (const n of K8S_NODE_LAYOUT.nodes)
      out.push({
        name: `${file} for ${n.name}`,
        text: compileNodeNft(cluster, {
          nodeName: n.name,
          clusterCIDR: c.services.clusterCIDR,
          nodeIPs: [...n.addresses],
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
      expect(texts.length).toBeGreaterThanOrEqual(20);
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
    }, 300_000);
  },
);

describe.skipIf(skipReason)(kernelDescribe('kernel: every Service suite in nftables mode'), () => {
  const pool = new LabPool();
  afterAll(async () => {
    await pool.close();
  });
  test('there are Service suites to run', () => {
    expect(serviceCases.length).toBeGreaterThanOrEqual(30);
  });
  for (const c of serviceCases) {
    test(c.name, async () => {
      const [r] = await runCases([c], { sides: 'kernel', mode: 'nftables', pool });
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
});
