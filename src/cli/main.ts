#!/usr/bin/env node
// nfconform's command line. Bad input exits 2 with file:line:col and the cause, never a stack trace.
import { isInputError } from '../model/index.ts';
import { DockerLabError } from '../lab/docker-site.ts';
import { traceCommand, TRACE_USAGE } from './trace-cmd.ts';
import { lintCommand, LINT_USAGE } from './lint-cmd.ts';
import { doctorCommand, DOCTOR_USAGE } from './doctor-cmd.ts';
import { labCommand, LAB_USAGE } from './lab-cmd.ts';
import { checkCommand, runCommand, CHECK_USAGE, RUN_USAGE } from './cases-cmd.ts';
import { fuzzCommand, FUZZ_USAGE } from './fuzz-cmd.ts';
import { compileCommand, COMPILE_USAGE } from './compile-cmd.ts';
import { validateCommand, VALIDATE_USAGE } from './validate-cmd.ts';

const USAGE = `nfconform: property-based conformance for netfilter and Kubernetes Services

commands:
  ${RUN_USAGE}
  ${CHECK_USAGE}
  ${FUZZ_USAGE}
  ${COMPILE_USAGE}
  ${VALIDATE_USAGE}
  ${TRACE_USAGE.replace(/\n/g, '\n  ')}
  ${LINT_USAGE}
  ${DOCTOR_USAGE}
  ${LAB_USAGE.replace(/\n/g, '\n  ')}
`;

type Command = (argv: string[], write: (s: string) => void) => number | Promise<number>;
const COMMANDS: Record<string, Command> = {
  compile: compileCommand,
  validate: validateCommand,
  fuzz: fuzzCommand,
  run: runCommand,
  check: checkCommand,
  trace: traceCommand,
  lint: lintCommand,
  doctor: doctorCommand,
  lab: labCommand,
};

export async function main(argv: string[]): Promise<number> {
  const write = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    write(USAGE);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`nfconform: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return await cmd(rest, write);
  } catch (e) {
    if (isInputError(e) || e instanceof DockerLabError) {
      process.stderr.write(`nfconform: ${e.message}\n`);
      return 2;
    }
    if (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`nfconform ${name}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`nfconform: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 3;
  }
}

// `nfconform trace ... | head` must not crash on a closed pipe
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
