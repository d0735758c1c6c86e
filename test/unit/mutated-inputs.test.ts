// Thousands of mutated inputs of every kind at the loaders: each is valid or an input error with
// a location (exit 0 or 2), never an internal error (exit 3). Longer: npm run fuzz-inputs.
import { test, expect } from 'vitest';
import { fuzzInputs } from '../helpers/mutated-inputs.ts';
import { parseRuleset } from '../../src/model/index.ts';

test(
  'mutated rulesets, scripts, case files, topologies, Services and command lines: exit 0 or' + ' 2 with a location',
  async () => {
    const seed = process.env.NFC_SEED ? Number(process.env.NFC_SEED) : Date.now() & 0x7fffffff;
    const report = await fuzzInputs(Number(process.env.NFC_INPUTS_PER_KIND ?? 150), seed);
    const total = Object.values(report.kinds).reduce((n, k) => n + k.inputs, 0);
    expect(total, `replay: NFC_SEED=${seed}`).toBeGreaterThan(600);
    // both sides of the property were exercised: some inputs were refused, some were valid
    for (const [name, k] of Object.entries(report.kinds)) expect(k.codes['2'] ?? 0, name).toBeGreaterThan(0);
    expect(report.failures.slice(0, 3), `replay: NFC_SEED=${seed}`).toEqual([]);
  },
);

test('found by the property: a ruleset line that is a lone quote is bad input, as for iptables-restore', () => {
  expect(() => parseRuleset('*filter\n"\nCOMMIT\n', { file: 'q.rules' })).toThrow('q.rules:2:1: bad argument');
});
