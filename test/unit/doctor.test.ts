// doctor's Node.js check reads the minimum from package.json's engines (the one place it is written).
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { atLeast, minimumNode } from '../../src/cli/doctor-cmd.ts';

test('the minimum Node.js version is package.json engines.node', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string };
  };
  expect(`>=${minimumNode()}`).toBe(pkg.engines.node.replace(/\s/g, ''));
});

test('version comparison: 20.19 and later pass, Debian 12 nodejs 18 and 20.18 do not', () => {
  expect(atLeast('20.19.0', '20.19')).toBe(true);
  expect(atLeast('v20.20.2', '20.19')).toBe(true);
  expect(atLeast('22.0.0', '20.19')).toBe(true);
  expect(atLeast('20.18.3', '20.19')).toBe(false);
  expect(atLeast('18.19.0', '20.19')).toBe(false);
  expect(atLeast('20.9.0', '20.19')).toBe(false);
});
