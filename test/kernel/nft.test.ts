// Real nft (in `unshare -n`) is the judge of the model's nft language: the fixtures list as recorded,
// and the model prints what nft prints.
import { describe, test, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { parseNft, printNft } from '../../src/model/nft/index.ts';
import { judgeNft, nftJudgeSkipReason } from '../../src/lab/nft-judge.ts';

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
