// Real nft (in `unshare -n`) is the judge of the model's nft language: the fixtures list as recorded,
// and the model prints what nft prints.
import { describe, test, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { parseNft, printNft, parseNftJson } from '../../src/model/nft/index.ts';
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

describe.skipIf(skip)(name('kernel: nft -j list ruleset read back'), () => {
  test("generated rulesets: the JSON nft lists reads into the model's AST with the kernel's handles", async () => {
    // the JSON form has no table comments (nft 1.0.6 src/json.c): the text listing without them
    const noTableComment = (l: string) =>
      l.replace(/^table [^\n]*\n\tcomment "[^\n]*"\n/gm, (m) => m.split('\n')[0]! + '\n');
    const texts = nftSamples(400, 20261202);
    const verdicts = await judgeNft(texts, { json: true });
    const problems: string[] = [];
    // listings that differ: the protocol-context corner cases of spec/nft.md §6 (as for the text)
    const listings: string[] = [];
    let read = 0;
    verdicts.forEach((v, i) => {
      if (!v.ok || !v.json) return;
      let model;
      try {
        model = parseNft(texts[i]!, { file: 'gen.nft' });
      } catch {
        return; // the text parser's own agreement is judged above
      }
      let fromJson;
      try {
        fromJson = parseNftJson(v.json, `gen${i}.json`);
      } catch (e) {
        problems.push(`reading #${i}: ${(e as Error).message}\n${texts[i]}`);
        return;
      }
      read++;
      // a /0 mask leaves no bits to compare: nft's JSON writes its value garbled (1.0.6), the text as given
      const anyValue = (l: string) => l.replace(/0x[0-9a-f]{8}\/0\b/g, 'X/0');
      if (anyValue(printNft(fromJson)) !== anyValue(noTableComment(v.listing)))
        listings.push(`listing of #${i}:\n${texts[i]}--- model:\n${printNft(fromJson)}--- nft:\n${v.listing}`);
      const handles = (rs: typeof model) =>
        [...rs.tables.values()].map((t) => [
          ...[...t.chains.values()].map((c) => [c.name, c.handle, c.rules.map((r) => r.handle)]),
          ...[...t.sets.values()].map((s) => [s.name, s.handle]),
        ]);
      if (JSON.stringify(handles(model)) !== JSON.stringify(handles(fromJson)))
        problems.push(
          `handles of #${i}: model ${JSON.stringify(handles(model))} kernel` +
            ` ${JSON.stringify(handles(fromJson))}\n${texts[i]}`,
        );
    });
    expect(read).toBeGreaterThan(80);
    expect(problems.slice(0, 3)).toEqual([]);
    expect(listings.length / read, listings.slice(0, 2).join('\n')).toBeLessThanOrEqual(0.01);
  });
});
