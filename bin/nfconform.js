#!/usr/bin/env node
// Runs the compiled CLI from dist/ (`npm run build`; setup.sh and `npm install` build it). In a clone whose
// dist/ is missing or older than a file under src/, or with NFCONFORM_SOURCE=1, it runs the TypeScript
// sources through tsx (a devDependency) instead: the same behaviour, a slower start (README "Building").
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from './dist-current.js';

if (process.env.NFCONFORM_SOURCE !== '1' && distIsCurrent(fileURLToPath(new URL('../', import.meta.url)))) {
  await import('../dist/cli/main.js');
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write(
      'nfconform: dist/ is missing or older than src/, and tsx is not installed: run npm run build\n',
    );
    process.exit(3);
  }
  tsx.register();
  await import('../src/cli/main.ts');
}
