// Two kernel runs compared with each other: a TCP entry whose state retransmissions may still move is not
// compared (two runs may read the same close at different states), and neither is anything after it.
import { describe, expect, test } from 'vitest';
import { crossDiffs } from '../../src/conform/cross-compare.ts';
import type { CaseReport, StepReport } from '../../src/conform/run-case.ts';
import type { Observation } from '../../src/model/index.ts';
import { tcpEntryObservation } from '../helpers/observation.ts';

const obs = tcpEntryObservation;

const step = (label: string, model: Observation, kernel: Observation): StepReport => ({
  label,
  oracleMisses: [],
  sports: [41000],
  model: [[{ p: 1, value: model }]],
  kernel: [kernel],
  modelMisses: [],
  kernelMisses: [],
  diffs: [],
  indeterminate: [],
});

const report = (steps: StepReport[]): CaseReport => ({
  name: 'c',
  file: undefined,
  tags: [],
  oracle: 'skip',
  model: 'pass',
  kernel: 'pass',
  agree: 'pass',
  steps,
  indeterminate: 0,
  ms: 0,
});

describe('crossDiffs', () => {
  test('a fixed conntrack state that differs is a difference', () => {
    const a = report([step('s', obs('TIME_WAIT'), obs('TIME_WAIT'))]);
    const b = report([step('s', obs('TIME_WAIT'), obs('CLOSE'))]);
    expect(crossDiffs([a], [b]).diffs.map((d) => d.step)).toEqual(['c / s #1']);
  });

  test('a state the model says may still move is not compared, nor any later step', () => {
    const moving = obs('FIN_WAIT', ['LAST_ACK', 'CLOSE_WAIT', 'TIME_WAIT']);
    const a = report([step('s', moving, obs('FIN_WAIT')), step('t', obs('TIME_WAIT'), obs('TIME_WAIT'))]);
    const b = report([step('s', moving, obs('CLOSE_WAIT')), step('t', obs('TIME_WAIT'), obs('LAST_ACK'))]);
    const { compared, diffs } = crossDiffs([a], [b]);
    expect(compared).toBe(2);
    expect(diffs).toEqual([]);
  });

  test('the outcome is still compared where the state may move', () => {
    const moving = obs('FIN_WAIT', ['LAST_ACK']);
    const delivered = { ...obs('FIN_WAIT'), outcome: 'delivered' } as Observation;
    const a = report([step('s', moving, obs('FIN_WAIT'))]);
    const b = report([step('s', moving, delivered)]);
    expect(crossDiffs([a], [b]).diffs).toHaveLength(1);
  });
});
