// The nft parser on generated rulesets (src/conform/nft-arbitraries.ts): it accepts, or refuses with a
// positioned InputError, never anything else; what it accepts prints to text it accepts again (nft's
// listing is not always a fixed point: "{ 22-22, 22 }" lists as "{ 22 }", which lists as "22").
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { parseNft, printNft, InputError } from '../../src/model/index.ts';
import { nftRulesetText } from '../../src/conform/nft-arbitraries.ts';
import { assertProperty } from '../helpers/property.ts';

test('generated nft rulesets: accepted and reloadable once printed, or refused with file:line:col', () => {
  let accepted = 0;
  let refused = 0;
  assertProperty(
    fc.property(nftRulesetText(), (text) => {
      let printed: string;
      try {
        printed = printNft(parseNft(text, { file: 'gen.nft' }));
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        expect(e.message).toMatch(/^gen\.nft:\d+:\d+: /);
        refused++;
        return;
      }
      accepted++;
      expect(() => parseNft(printed, { file: 'printed.nft' })).not.toThrow();
    }),
    { numRuns: 300 },
  );
  // a run that checked nothing must not pass
  expect(accepted).toBeGreaterThan(20);
  expect(refused).toBeGreaterThan(20);
});
