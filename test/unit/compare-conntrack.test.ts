// Conntrack records are paired model-to-kernel by a perfect matching: a model port range must not take the kernel
// record an exact model record needs (a routing loop through a DNAT: regression routing-loop-time-exceeded).
import { test, expect } from 'vitest';
import { compareObservation } from '../../src/conform/compare.ts';
import type { Observation, ConntrackRecord } from '../../src/model/index.ts';

const rec = (orig: string, reply: string): ConntrackRecord => ({ proto: 'udp', orig, reply, state: null, flags: [] });
const obs = (node: ConntrackRecord[]): Observation => ({
  outcome: 'dropped',
  responder: null,
  seen: null,
  icmp: null,
  replyFrom: null,
  error: null,
  conntrack: { node },
  droppedAt: null,
});

test('a range record does not steal the exact record of another', () => {
  const model = [
    rec('192.168.50.20:1024-65535>10.99.0.1:80', '10.99.0.1:80>192.168.50.20:1024-65535'),
    rec('192.168.50.20:41005>10.99.0.1:80', '10.99.0.1:80>192.168.50.20:1024-65535'),
  ];
  const kernel = [
    rec('192.168.50.20:41005>10.99.0.1:80', '10.99.0.1:80>192.168.50.20:5000'),
    rec('192.168.50.20:5000>10.99.0.1:80', '10.99.0.1:80>192.168.50.20:6000'),
  ];
  expect(compareObservation(obs(model), obs(kernel))).toEqual([]);
  // and a record nobody fits is still a difference
  const wrong = [kernel[0]!, rec('192.168.50.20:80>10.99.0.1:80', '10.99.0.1:80>192.168.50.20:6000')];
  expect(compareObservation(obs(model), obs(wrong)).map((d) => d.field)).toEqual(['conntrack.node']);
});
