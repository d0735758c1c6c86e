// Worlds share conntrack entries until one changes them (copy on write, model/conntrack.ts): sibling
// branches of a probe and the world a probe started from never see each other's changes.
import { test, expect } from 'vitest';
import { makeLab, newWorld, runProbe, parseRuleset, k8sNode, compileTopology } from '../../src/model/index.ts';

const rules = parseRuleset(
  [
    '*nat',
    '-A PREROUTING -d 10.96.0.100/32 -p udp -m statistic --mode random --probability 0.5 -j' +
      ' DNAT --to-destination 10.244.1.11:8080',
    '-A PREROUTING -d 10.96.0.100/32 -p udp -j DNAT --to-destination 10.244.1.12:8080',
    'COMMIT',
    '',
  ].join('\n'),
  { file: 'r' },
);
const lab = makeLab(compileTopology(k8sNode()), new Map([['node', rules]]));
const probe = { from: 'client', proto: 'udp' as const, dst: '10.96.0.100', dport: 80, sport: 41000 };

test('each branch keeps its own binding; the starting world is unchanged', () => {
  const w0 = newWorld(lab);
  const first = runProbe(lab, w0, probe);
  expect(first.map((r) => r.value.observation.responder).sort()).toEqual(['pod1', 'pod2']);
  for (const r of first) {
    // the same connection again: conntrack, not the rules, decides, in that branch's own world
    const again = runProbe(lab, r.value.world, probe);
    expect(again).toHaveLength(1);
    expect(again[0]!.value.observation.responder).toBe(r.value.observation.responder);
  }
  // w0 saw nothing: the same probe from it still has both answers
  expect(runProbe(lab, w0, probe)).toHaveLength(2);
  // and a second connection from one branch's world leaves the other branch's entries alone
  const [a, b] = first;
  runProbe(lab, a!.value.world, { ...probe, sport: 41001 });
  expect(runProbe(lab, b!.value.world, probe)[0]!.value.observation.responder).toBe(b!.value.observation.responder);
});
