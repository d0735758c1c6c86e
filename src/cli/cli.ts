// nfconform's command line as a function (main.ts runs it; tests call it in-process).
// Bad input exits 2 with file:line:col (or the JSON path) and the cause, never a stack trace.
import { isInputError } from '../model/index.ts';
import { quote, safeMessage } from '../model/index.ts';
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

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const processIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Runs one command line; returns the exit code: 0, 1 (a failure found), 2 (bad input), 3 (internal error). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const write = (s: string) => io.out(s.endsWith('\n') ? s : `${s}\n`);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    write(USAGE);
    return name ? 0 : 2;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    io.err(`nfconform: unknown command ${quote(name)}\n${USAGE}`);
    return 2;
  }
  try {
    return await cmd(rest, write);
  } catch (e) {
    if (isInputError(e) || e instanceof DockerLabError) {
      io.err(`nfconform: ${e.message}\n`);
      return 2;
    }
    if (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`nfconform ${name}: ${safeMessage(e.message)}\n`);
      return 2;
    }
    io.err(`nfconform: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 3;
  }
}
