#!/usr/bin/env node
// nfconform's command line (cli.ts). Bad input exits 2 with file:line:col and the cause, never a stack trace.
import { main } from './cli.ts';

// `nfconform trace ... | head` must not crash on a closed pipe
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
