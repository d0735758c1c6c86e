// The reach generators (src/conform/reach-arbitraries.ts): a NAT paired with a rule in its own hook, so that
// the tables' order in that hook (mangle PREROUTING before the DNAT, filter INPUT before the SNAT) decides.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { recipeArb, resolveRecipe, type Palette } from '../../src/conform/reach-arbitraries.ts';
import { TABLE_HOOKS } from '../../src/model/index.ts';

const palette: Palette = {
  vip: '10.96.0.100',
  ep: '10.244.1.11',
  ep2: '10.244.2.13',
  port: 80,
  tport: 8080,
  proto: 'tcp',
};

test('a natpair in the same hook puts its rule in the NAT chain of a table that has it', () => {
  let seen = 0;
  fc.assert(
    fc.property(recipeArb, (x) => {
      if (x.r !== 'natpair' || !x.sameHook) return;
      seen++;
      const [nat, other] = resolveRecipe(x, palette).node;
      expect(other!.chainName).toBe(nat!.chainName);
      expect(TABLE_HOOKS[other!.table]).toContain(nat!.chainName);
    }),
    { numRuns: 2000, seed: 14 },
  );
  expect(seen).toBeGreaterThan(50);
});

test('a DNAT in PREROUTING and a mangle PREROUTING rule on the Service address are drawn together', () => {
  const found = fc
    .sample(recipeArb, { numRuns: 2000, seed: 14 })
    .map((x) => resolveRecipe(x, palette).node)
    .filter(
      ([nat, other]) =>
        nat?.chainName === 'PREROUTING' &&
        nat.target.startsWith('-j DNAT') &&
        other?.table === 'mangle' &&
        other.chainName === 'PREROUTING' &&
        other.dst === palette.vip,
    );
  expect(found.length).toBeGreaterThan(5);
});
