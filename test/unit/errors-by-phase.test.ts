// Errors by phase (spec/equivalence.md §5): a crash in the model pass is an internal error that names the
// case to reproduce it; it is never reported as a kernel failure or a divergence.
import { test, expect } from 'vitest';
import { runProbe } from '../../src/model/index.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { InternalError } from '../../src/conform/errors.ts';
import type { CaseFile } from '../../src/conform/case-file.ts';

const c: CaseFile = {
  name: 'a planted crash',
  file: 'planted-crash.json',
  topology: 'k8s-node',
  steps: [
    { from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080 },
    { from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 9090 },
  ],
};

/** The model's probe, with a planted TypeError on the second probe. */
export const crashing: typeof runProbe = (lab, world, p, o) => {
  if (p.dport === 9090) throw new TypeError("Cannot read properties of undefined (reading 'planted')");
  return runProbe(lab, world, p, o);
};

test('a crash in the model pass is an internal error naming the case, not a failed case', async () => {
  const err = await runCases([c], { sides: 'model', runProbe: crashing }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InternalError);
  const e = err as InternalError;
  expect(e.phase).toBe('model');
  expect(e.message).toContain('planted-crash.json');
  expect(e.message).toContain('not a divergence');
  expect(e.cause).toBeInstanceOf(TypeError);
  // without the planted crash the same case runs and passes
  const [ok] = await runCases([c], { sides: 'model' });
  expect(ok!.model).toBe('pass');
});

test('the kernel side is not marked failed by a model crash, even when the kernel is skipped', async () => {
  const err = await runCases([c], { sides: 'both', kernelSkip: 'no lab here', runProbe: crashing }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InternalError);
});
