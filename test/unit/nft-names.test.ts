// Which words the nft parser takes as table, set, map and chain names and after `@` (spec/nft.md §2, names.ts),
// against the table measured with real nft 1.0.6 in a throw-away namespace (test/fixtures/nft/names-measured.json:
// the expected answers are nft's, not the model's; test/kernel/nft.test.ts checks nft still gives them).
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseNft, InputError } from '../../src/model/index.ts';

interface Measured {
  forms: Record<string, string>;
  afterAt: string[];
  accepted: string[];
  refused: string[];
  refusedAfterAt: string[];
}
const measured = JSON.parse(
  readFileSync(new URL('../fixtures/nft/names-measured.json', import.meta.url), 'utf8'),
) as Measured;

/** nft's answer for a word in a form, from the measured table */
function nftAccepts(m: Measured, word: string, form: string): boolean {
  if (m.refused.includes(word)) return false;
  if (m.refusedAfterAt.includes(word)) return !m.afterAt.includes(form);
  return true;
}

const modelAccepts = (text: string): boolean => {
  try {
    parseNft(text, { file: 'names.nft' });
    return true;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return false;
  }
};

test('the model takes as names exactly the words nft 1.0.6 takes, in every form (measured table)', () => {
  const words = [...measured.accepted, ...measured.refused, ...measured.refusedAfterAt];
  expect(words.length).toBeGreaterThan(70);
  const differ: string[] = [];
  for (const w of words)
    for (const [form, text] of Object.entries(measured.forms)) {
      const want = nftAccepts(measured, w, form);
      if (modelAccepts(text.replaceAll('W', w)) !== want)
        differ.push(`${w} as ${form}: nft ${want ? 'accepts' : 'refuses'}`);
    }
  expect(differ).toEqual([]);
});
