// `fuzz --profile`: phases are counted and timed, also when the work throws, and rendered longest first.
import { describe, test, expect } from 'vitest';
import { PhaseTimes, renderProfile } from '../../src/lab/profile.ts';

describe('where a campaign spends its time (issue 14 §4)', () => {
  test('phases add up, a throwing phase is booked too, the longest comes first', async () => {
    const p = new PhaseTimes();
    p.add('apply', 20);
    p.add('apply', 30);
    p.add('probe-dropped', 650);
    await expect(
      p.time('build', async () => {
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('no lab');
      }),
    ).rejects.toThrow('no lab');
    expect(p.timeSync('model', () => 42)).toBe(42);
    const r = p.report();
    expect(r[0]).toMatchObject({ phase: 'probe-dropped', count: 1, ms: 650 });
    expect(r.find((x) => x.phase === 'apply')).toMatchObject({ count: 2, ms: 50 });
    expect(r.find((x) => x.phase === 'build')!.ms).toBeGreaterThanOrEqual(4);
    expect(r.map((x) => x.phase)).toContain('model');
  });

  test('the table names each phase with its share of the labs time', () => {
    const p = new PhaseTimes();
    p.add('probe-dropped', 6000, 10);
    p.add('build', 2000, 2);
    const text = renderProfile(p.report(), 5000, 2);
    expect(text).toContain('2 labs x 5.0 s wall = 10.0 s');
    expect(text).toMatch(/probes dropped: the timeout and its confirmation wait\s+10\s+6\.0 s\s+60\.0%\s+600 ms/);
    expect(text).toMatch(/lab build \(namespaces, links, agents\)\s+2\s+2\.0 s\s+20\.0%\s+1000 ms/);
    expect(text).toMatch(/other \(engine, judging, labs idle\)\s+2\.0 s/);
    expect(text).not.toContain('labs built');
  });

  test('labs built are counted by cause, the most frequent first', () => {
    const p = new PhaseTimes();
    p.built('first');
    p.built('conntrack-hooked');
    p.built('conntrack-hooked');
    expect(p.buildCauses().map((b) => [b.cause, b.count])).toEqual([
      ['conntrack-hooked', 2],
      ['first', 1],
    ]);
    const text = renderProfile(p.report(), 1000, 1, p.buildCauses());
    expect(text).toMatch(/labs built, by cause:\n\s+2 {2}conntrack still hooked after the reset/);
  });
});
