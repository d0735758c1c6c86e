// Every suite case file is valid against spec/case.schema.json, and the loader agrees with the schema.
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { findCaseFiles } from '../../src/conform/case-file.ts';
import { checkTopology, JsonChecker } from '../../src/model/index.ts';
import { kinds, rng } from '../helpers/mutated-inputs.ts';

const schema = JSON.parse(readFileSync(new URL('../../spec/case.schema.json', import.meta.url), 'utf8'));
const topologySchema = JSON.parse(readFileSync(new URL('../../spec/topology.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020.default({ allErrors: true, strict: false });
addFormats.default(ajv);
ajv.addSchema(topologySchema);
const validate = ajv.compile(schema);
const validateTopology = ajv.getSchema(topologySchema.$id)!;

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

test('what the topology checker accepts, spec/topology.schema.json accepts (mutated topologies)', () => {
  const topo = kinds().find((k) => k.name === 'topology')!;
  const r = rng(11);
  let accepted = 0;
  for (let i = 0; i < 1500; i++) {
    const text = topo.mutate(r, topo.seeds[i % topo.seeds.length]!);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      continue;
    }
    let ok = true;
    try {
      checkTopology(raw, new JsonChecker('t.json'));
    } catch {
      ok = false;
    }
    if (ok) {
      accepted++;
      expect(validateTopology(raw) ? [] : validateTopology.errors, text).toEqual([]);
    }
  }
  expect(accepted).toBeGreaterThan(20);
  // and the schema refuses what the names grammar refuses
  const one = (iface: string) => ({ name: 't', hosts: [{ name: 'a', ifaces: [{ name: iface, bridge: true }] }] });
  expect(validateTopology(one('eth0.100'))).toBe(true);
  for (const bad of ['eth0\nx', 'a b', 'abcdefghijklmnop', 'all', '%d', ''])
    expect(validateTopology(one(bad)), bad).toBe(false);
});
