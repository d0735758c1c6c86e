import { defineConfig } from 'vitest/config';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `import ... from 'nfconform'` in examples/ runs the sources: each package.json export's "nfconform-source"
// (tsconfig.json's customConditions does the same for the type checker). The pack test covers dist/.
const pkg = JSON.parse(readFileSync(new URL('package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
};
const selfImports = Object.entries(pkg.exports).flatMap(([sub, target]) =>
  typeof target === 'object' && target['nfconform-source']
    ? [
        {
          find: new RegExp(`^nfconform${sub.slice(1).replace(/[/.]/g, '\\$&')}$`),
          replacement: fileURLToPath(new URL(target['nfconform-source'], import.meta.url)),
        },
      ]
    : [],
);

export default defineConfig({
  test: {
    // readable in a terminal, machine-readable for CI (.ci/run reads the JSON)
    reporters: [
      'default',
      ['json', { outputFile: 'reports/vitest.json' }],
      ['junit', { outputFile: 'reports/junit.xml' }],
    ],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // property tests take seconds, more when the machine is busy: time is not what they test
          testTimeout: 120_000,
        },
      },
      {
        // what a user of the library writes: properties over the public API (README "Library")
        resolve: { alias: selfImports },
        test: {
          name: 'examples',
          include: ['examples/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        test: {
          // the HTML pages in headless chromium (scripts/setup.sh installs it; never skipped)
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          // npm pack of a copy of the tree, installed into an empty folder (needs the npm registry)
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['test/kernel/**/*.test.ts'],
          globalSetup: ['test/kernel/global-setup.ts'],
          environment: 'node',
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
