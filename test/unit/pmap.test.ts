// The persistent map under the conntrack table: old versions never change, and every version agrees with a
// plain Map given the same operations (colliding and deep keys included).
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { PMap } from '../../src/model/pmap.ts';

test('a PMap agrees with a Map after any sequence of sets and deletes, and old versions stay as they were', () => {
  const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 }), fc.integer());
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      let p = PMap.empty<number>();
      const m = new Map<string, number>();
      const versions: [PMap<number>, Map<string, number>][] = [];
      for (const [set, k, v] of ops) {
        const key = `k${k}`;
        if (set) ((p = p.set(key, v)), m.set(key, v));
        else ((p = p.delete(key)), m.delete(key));
        versions.push([p, new Map(m)]);
      }
      for (const [pv, mv] of versions) {
        expect(pv.size).toBe(mv.size);
        for (let k = 0; k <= 300; k++) expect(pv.get(`k${k}`)).toBe(mv.get(`k${k}`));
        expect([...pv.values()].sort()).toEqual([...mv.values()].sort());
      }
    }),
    { numRuns: 50 },
  );
});

test('many keys: all found, then all deleted', () => {
  let p = PMap.empty<number>();
  for (let i = 0; i < 20000; i++) p = p.set(`6:${i}:41000>${i * 7}:80`, i);
  expect(p.size).toBe(20000);
  for (let i = 0; i < 20000; i += 97) expect(p.get(`6:${i}:41000>${i * 7}:80`)).toBe(i);
  for (let i = 0; i < 20000; i++) p = p.delete(`6:${i}:41000>${i * 7}:80`);
  expect(p.size).toBe(0);
  expect([...p.values()]).toEqual([]);
});

test('keys with the same 32-bit hash share a bucket and stay apart', () => {
  // FNV-1a of k32728 and k261234 are equal (and of k32729, k261235)
  let p = PMap.empty<string>().set('k32728', 'a').set('k261234', 'b').set('k32729', 'c').set('k261235', 'd');
  expect([p.get('k32728'), p.get('k261234'), p.get('k32729'), p.get('k261235')]).toEqual(['a', 'b', 'c', 'd']);
  const q = p.set('k261234', 'B').delete('k32728');
  expect([q.get('k32728'), q.get('k261234'), q.size]).toEqual([undefined, 'B', 3]);
  expect([p.get('k32728'), p.get('k261234'), p.size]).toEqual(['a', 'b', 4]);
  p = q.delete('k261234').delete('k32729').delete('k261235');
  expect([p.size, [...p.values()]]).toEqual([0, []]);
});
