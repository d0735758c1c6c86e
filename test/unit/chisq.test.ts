import { test, expect } from 'vitest';
import fc from 'fast-check';
import { chiSquare, gammaQ } from '../../src/conform/chisq.ts';
import { assertProperty } from '../helpers/property.ts';

test('known chi-square tail probabilities', () => {
  // critical values: 3.841 (1 dof, 0.05), 5.991 (2 dof, 0.05), 21.108 (3 dof, 0.0001), 30.578 (15 dof, 0.01)
  expect(gammaQ(0.5, 3.841 / 2)).toBeCloseTo(0.05, 4);
  expect(gammaQ(1, 5.991 / 2)).toBeCloseTo(0.05, 4);
  expect(gammaQ(1.5, 21.108 / 2) / 0.0001).toBeCloseTo(1, 2);
  expect(gammaQ(7.5, 30.578 / 2)).toBeCloseTo(0.01, 4);
});

test('a fair split fits, a lopsided one does not, an impossible category is named', () => {
  const half = new Map([
    ['pod1', 0.5],
    ['pod2', 0.5],
  ]);
  expect(
    chiSquare(
      new Map([
        ['pod1', 104],
        ['pod2', 96],
      ]),
      half,
    ).pValue,
  ).toBeGreaterThan(0.5);
  expect(
    chiSquare(
      new Map([
        ['pod1', 150],
        ['pod2', 50],
      ]),
      half,
    ).pValue,
  ).toBeLessThan(1e-6);
  expect(
    chiSquare(
      new Map([
        ['pod1', 100],
        ['pod3', 1],
      ]),
      half,
    ).impossible,
  ).toEqual(['pod3']);
});

test('samples drawn from the expected distribution are rejected at about the significance level', () => {
  // 400 simulated runs of 200 draws over 3 categories: with alpha = 0.01, about 4 rejections
  let rejected = 0;
  assertProperty(
    fc.property(
      fc.array(
        fc.noBias(fc.integer({ min: 0, max: 9999 })).map((n) => n / 10000),
        { minLength: 200, maxLength: 200 },
      ),
      (us) => {
        const obs = new Map<string, number>();
        for (const u of us) {
          const k = u < 0.5 ? 'a' : u < 0.8 ? 'b' : 'c';
          obs.set(k, (obs.get(k) ?? 0) + 1);
        }
        if (
          chiSquare(
            obs,
            new Map([
              ['a', 0.5],
              ['b', 0.3],
              ['c', 0.2],
            ]),
          ).pValue < 0.01
        )
          rejected++;
      },
    ),
    { numRuns: 400, seed: 5 },
  );
  expect(rejected).toBeLessThan(15);
});
