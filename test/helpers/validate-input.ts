// The validate fixtures (suites/fixtures/README.md) as validateNode input.
import { readFileSync } from 'node:fs';
import { SUITES_DIR } from '../../src/conform/case-file.ts';
import type { ValidateInput } from '../../src/conform/validate.ts';

const fx = (f: string) => `${SUITES_DIR}fixtures/${f}`;
export const validateInput = (dump: string): Omit<ValidateInput, 'sides'> => ({
  servicesText: readFileSync(fx('services.json'), 'utf8'),
  servicesFile: fx('services.json'),
  rulesetText: readFileSync(fx(dump), 'utf8'),
  rulesetFile: fx(dump),
  nodeName: 'node',
  nodeIps: ['192.168.50.10'],
});
