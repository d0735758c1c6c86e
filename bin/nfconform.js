#!/usr/bin/env node
// Runs the compiled CLI from dist/ (`npm run build`; setup.sh and `npm install` build it). In a clone whose
// dist/ is missing or older than a file under src/, or with NFCONFORM_SOURCE=1, it runs the TypeScript
// sources through tsx instead: the same behaviour, a slower start (README "Building").
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from './dist-current.js';

if (process.env.NFCONFORM_SOURCE !== '1' && distIsCurrent(fileURLToPath(new URL('../', import.meta.url)))) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
