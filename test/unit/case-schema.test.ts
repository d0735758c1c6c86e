// Every suite case file is valid against spec/case.schema.json, and the loader agrees with the schema.
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { findCaseFiles } from '../../src/conform/case-file.ts';

const schema = JSON.parse(readFileSync(new URL('../../spec/case.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020.default({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(schema);

for (const file of findCaseFiles()) {
  test(`schema: ${file.split('/suites/')[1]}`, () => {
    const ok = validate(JSON.parse(readFileSync(file, 'utf8')));
    expect(ok ? [] : validate.errors).toEqual([]);
  });
}

test('the schema refuses what the loader refuses', () => {
  expect(validate({ name: 'x', topology: 'k8s-node', steps: [{ from: 'pod1', proto: 'sctp', dst: '10.0.0.1' }] })).toBe(
    false,
  );
  expect(validate({ name: 'x', topology: 'k8s-node', steps: [] })).toBe(false);
  expect(validate({ name: 'x', topology: 'k8s-node', steps: [{ wait: 3 }] })).toBe(true);
});
