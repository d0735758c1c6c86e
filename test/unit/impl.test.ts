// --impl: an external command speaking spec/impl-contract.md is judged like the built-in compiler.
import { describe, test, expect } from 'vitest';
import { writeFileSync, mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCase, SUITES_DIR } from '../../src/conform/case-file.ts';
import { runCases } from '../../src/conform/run-case.ts';
import { implementationOf } from '../../src/conform/impl.ts';
import { isInputError } from '../../src/model/index.ts';

const suite = (name: string) => loadCase(`${SUITES_DIR}services/${name}.json`);
const adapter = `${SUITES_DIR}adapters/ignore-local-policy.mjs`;

describe('implementations under test', () => {
  test('the example adapter fails exactly the externalTrafficPolicy=Local suite', async () => {
    const cases = [suite('external-traffic-policy-local'), suite('no-endpoints')];
    const reports = await runCases(cases, { sides: 'model', impl: implementationOf(adapter) });
    expect(reports.map((r) => [r.model, r.oracle])).toEqual([
      ['fail', 'fail'],
      ['pass', 'pass'],
    ]);
    const builtin = await runCases(cases, { sides: 'model', impl: implementationOf('builtin') });
    expect(builtin.map((r) => [r.model, r.oracle])).toEqual([
      ['pass', 'pass'],
      ['pass', 'pass'],
    ]);
  });

  test('a mutant by name', async () => {
    const [r] = await runCases([suite('no-endpoints')], {
      sides: 'model',
      impl: implementationOf('mutant:reject-becomes-drop'),
    });
    expect(r!.oracle).toBe('fail');
    expect(() => implementationOf('mutant:nope')).toThrow(/no such mutant/);
  });

  test('bad output or a failing command is an input error naming the implementation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfc-impl-'));
    const bogus = join(dir, 'bogus.sh');
    writeFileSync(bogus, '#!/bin/sh\necho "*filter"\necho "-A INPUT -p tcp --dport 99999 -j ACCEPT"\necho COMMIT\n');
    chmodSync(bogus, 0o755);
    const failing = join(dir, 'fails.mjs');
    writeFileSync(failing, 'process.stderr.write("cannot reach the API server\\n"); process.exit(3);\n');
    for (const [impl, want] of [
      [bogus, /bogus\.sh \(output for node\):2:\d+: .*99999/],
      [failing, /failed for node node \(exit 3\): cannot reach the API server/],
    ] as const) {
      const err = await runCases([suite('no-endpoints')], { sides: 'model', impl: implementationOf(impl) }).catch(
        (e: unknown) => e,
      );
      expect(isInputError(err)).toBe(true);
      expect((err as Error).message).toMatch(want);
    }
    expect(() => implementationOf(join(dir, 'missing'))).toThrow(/no such file/);
  });
});
