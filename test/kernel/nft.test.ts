// Real nft (in `unshare -n`) is the judge of the model's nft language: the fixtures list as recorded,
// and the model prints what nft prints.
import { describe, test, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { parseNft, printNft } from '../../src/model/nft/index.ts';
import { judgeNft, nftJudgeSkipReason } from '../../src/lab/nft-judge.ts';
import { nftAgreement, nftSamples } from '../../src/conform/nft-agreement.ts';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { skipReason, kernelDescribe } from './env.ts';

const skip = nftJudgeSkipReason();
const name = (n: string) => (skip ? `${n} [skipped: ${skip}]` : n);
const dir = new URL('../fixtures/nft/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.nft'));
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');

describe.skipIf(skip)(name('kernel: nft fixtures'), () => {
  test('real nft loads every fixture and lists it as recorded; the model prints the same', async () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(4);
    const verdicts = await judgeNft(fixtures.map(read));
    fixtures.forEach((f, i) => {
      const v = verdicts[i]!;
      expect(v.stderr, f).toBe('');
      expect(v.ok, f).toBe(true);
      expect(v.listing, f).toBe(read(f.replace(/\.nft$/, '.list')));
      expect(printNft(parseNft(read(f), { file: f })), f).toBe(v.listing);
    });
  });
});

describe.skipIf(skip)(name('kernel: the nft parser against real nft on generated rulesets'), () => {
  test(
    '400 generated rulesets (fixed seed): accepted or refused alike and listed alike, >= 99%' +
      ' of those in the subset',
    async () => {
      const r = await nftAgreement(nftSamples(400, 20261201));
      const report = r.disagreements
        .slice(0, 3)
        .map((d) => `${d.kind}\n${d.text}--- model:\n${d.model}\n--- nft:\n${d.nft}`)
        .join('\n');
      // the run must have judged listings and refusals both
      expect(r.counts['same-listing']).toBeGreaterThan(50);
      expect(r.counts['both-refuse']).toBeGreaterThan(50);
      expect(r.counts.unsupported / r.total).toBeLessThan(0.25);
      expect(r.agreement, report).toBeGreaterThanOrEqual(0.99);
    },
    300_000,
  );
});

describe.skipIf(skipReason)(kernelDescribe('kernel: the lab applies nft'), () => {
  test(
    'applyNft loads a native ruleset into a lab host, listNft shows it as the model prints it,' + ' reset removes it',
    async () => {
      const lab = await KernelLab.up({ name: 'one', hosts: [{ name: 'h', ifaces: [] }] });
      try {
        const text = read('kube-proxy.nft');
        const r = await lab.applyNft('h', text);
        expect(r).toMatchObject({ ok: true, code: 0 });
        expect(await lab.listNft('h')).toBe(printNft(parseNft(text)));
        const bad = await lab.applyNft('h', 'add rule ip kube-proxy services jump nosuch\n');
        expect(bad.ok).toBe(false);
        expect(bad.stderr).toContain('No such file or directory');
        await lab.reset();
        expect(await lab.listNft('h')).toBe('');
      } finally {
        await lab.down();
      }
    },
  );
});
