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
  let conflicts = 0;
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
      // nft itself lists two port matches without a protocol as a raw load ("@th,0,32 0x..."), which is
      // outside the subset: such a listing may come back as unsupported, never as a syntax or other error.
      // A rule whose protocol matches contradict each other (`meta l4proto tcp ip protocol { udp } th dport
      // 80`) is listed with the port under the last protocol (`udp dport`), which nft 1.0.6 then refuses to
      // load again ("conflicting protocols specified": measured): the model's listing does the same.
      try {
        parseNft(printed, { file: 'printed.nft' });
      } catch (e) {
        const rawLoad = e instanceof InputError && e.kind === 'unsupported' && printed.includes('@th,');
        const conflicting = e instanceof InputError && e.message.includes('conflicting protocols specified');
        // a data map that rules fill (`add @m { k : v }`) lists without "flags dynamic" but with "size 65535",
        // which nft 1.0.6 then refuses to load (EOPNOTSUPP, measured): the model's listing does the same
        const unflagged = e instanceof InputError && e.message.includes('cannot be updated by rules');
        // an interval value of one address and one port lists as single values (`172.16.5.4 . 22`), which nft
        // 1.0.6 then refuses to load (EINVAL, measured): the model's listing does the same
        const single = e instanceof InputError && e.message.includes('single value (Invalid argument)');
        if (!rawLoad && !conflicting && !unflagged && !single) throw e;
        if (conflicting) conflicts++;
      }
    }),
    { numRuns: 300 },
  );
  // a run that checked nothing must not pass (a replay of one counterexample runs once)
  if (!process.env.NFC_PATH) {
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
    // contradictory protocols are rare (about 1 in 5,000): most rulesets must come back as they were
    expect(conflicts).toBeLessThan(accepted / 10);
  }
});
