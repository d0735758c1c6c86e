// A case file can run kube-proxy without a local-traffic detector (`services.localTrafficDetector: false`,
// upstream's NewNoOpLocalDetector; issue #13, TestInternalExternalMasquerade): the implementation gets no
// cluster CIDR, writes no pod-traffic rules, and the oracle takes no packet for pod traffic.
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCase } from '../../src/conform/case-file.ts';
import { withServices } from '../../src/conform/plan.ts';
import { builtinImpl, type ImplInput } from '../../src/conform/impl.ts';

const SUITE = fileURLToPath(new URL('../../suites/kube-proxy/', import.meta.url));
const FILE = join(SUITE, 'TestInternalExternalMasquerade-no-detector.json');
const raw = (): { services: Record<string, unknown> } => JSON.parse(readFileSync(FILE, 'utf8'));

test('the case file carries localTrafficDetector; a non-boolean is refused with its JSON path', () => {
  expect(checkCase(raw(), FILE).services?.localTrafficDetector).toBe(false);
  expect(() => checkCase({ ...raw(), services: { ...raw().services, localTrafficDetector: 'no' } }, FILE)).toThrow(
    /localTrafficDetector/,
  );
});

test('without a detector the implementation is told so and writes no pod-traffic rule', async () => {
  const seen: ImplInput[] = [];
  const inner = builtinImpl();
  const spy = { name: 'spy', compile: (i: ImplInput, t: string, f: string) => (seen.push(i), inner.compile(i, t, f)) };
  const c = checkCase(raw(), FILE);
  c.services!.text = readFileSync(join(SUITE, c.services!.file), 'utf8');
  const out = await withServices(c, spy);
  expect(seen.length).toBeGreaterThan(0);
  expect(seen.every((i) => i.localTrafficDetector === false)).toBe(true);
  const rules = out.hosts!['node']!.ruleset!;
  // with a detector the ClusterIP rule reads `! -s 10.244.0.0/16 ... -j KUBE-MARK-MASQ` and the EXT chain
  // of svc2 starts with `-s 10.244.0.0/16 ... -j KUBE-SVC-...`: neither is there
  expect(rules).not.toMatch(/10\.244\.0\.0\/16/);
  expect(rules).toMatch(/masquerade LOCAL traffic for ns2\/svc2:p80/);
  const withDetector = await withServices({ ...c, services: { ...c.services!, localTrafficDetector: true } });
  expect(withDetector.hosts!['node']!.ruleset!).toMatch(/! -s 10\.244\.0\.0\/16/);
});
