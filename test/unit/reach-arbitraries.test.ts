// The reach generators (src/conform/reach-arbitraries.ts): a NAT paired with a rule in its own hook, so that
// the tables' order in that hook (mangle PREROUTING before the DNAT, filter INPUT before the SNAT) decides.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import {
  recipeArb,
  reachSteps,
  resolveRecipe,
  type AimedProbe,
  type Palette,
  type ReachDraw,
} from '../../src/conform/reach-arbitraries.ts';
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

test('a DNAT drawn in both hooks is a PREROUTING and an OUTPUT rule, as kube-proxy hooks its Services', () => {
  const x = { r: 'dnat', hooks: 'both', to: 'ep', port: false, random: false, stat: 'none' } as const;
  const rules = resolveRecipe(x, palette).node;
  expect(rules.map((r) => `${r.table} ${r.chainName} ${r.dst} ${r.target}`)).toEqual([
    'nat PREROUTING 10.96.0.100 -j DNAT --to-destination 10.244.1.11',
    'nat OUTPUT 10.96.0.100 -j DNAT --to-destination 10.244.1.11',
  ]);
});

test('a natpair that accepts drops the rest after it in the same chain (an allow-list)', () => {
  const x = {
    r: 'natpair',
    snat: false,
    natChain: 1,
    table: 'filter',
    chain: 0,
    sameHook: true,
    after: true,
    verdict: 'ACCEPT',
  } as const;
  const [nat, accept, drop] = resolveRecipe(x, palette).node;
  expect(nat!.chainName).toBe('OUTPUT');
  expect([accept!.table, accept!.chainName, accept!.dst, accept!.target]).toEqual([
    'filter',
    'OUTPUT',
    palette.ep,
    '-j ACCEPT',
  ]);
  expect([drop!.table, drop!.chainName, drop!.dst, drop!.target]).toEqual(['filter', 'OUTPUT', undefined, '-j DROP']);
});

test('aimed probes: "local" sends from the node, and the endpoint calling its own address calls its Service', () => {
  const aimed = (from: AimedProbe['from'], to: AimedProbe['to']): AimedProbe => ({
    from,
    to,
    proto: 'palette',
    port: 'port',
    connected: true,
    repeat: 1,
  });
  const d: ReachDraw = {
    palette,
    recipes: [],
    aimed: [aimed('local', 'vip'), aimed('owner', 'ep'), aimed('owner', 'ep2')],
    mid: [],
  };
  const steps = reachSteps(d, [], [], 'nft');
  expect(steps).toEqual([
    { from: 'node', proto: 'tcp', dst: palette.vip, dport: 80 },
    { from: 'pod1', proto: 'tcp', dst: palette.vip, dport: 80 },
    { from: 'pod1', proto: 'tcp', dst: palette.ep2, dport: 80 },
  ]);
});
