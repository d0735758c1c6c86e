// nfconform's command line as a function (main.ts runs it; tests call it in-process).
// Bad input exits 2 with file:line:col (or the JSON path) and the cause, never a stack trace.
// Each command's module is imported only when that command runs: Docker, fast-check and the lab cost
// hundreds of milliseconds to load, and `lint` or `--help` need none of them (bench "cli").
import { USAGE, COMMAND_USAGE, asksForHelp } from './usage.ts';

type Command = (argv: string[], write: (s: string) => void) => number | Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  compile: async () => (await import('./compile-cmd.ts')).compileCommand,
  validate: async () => (await import('./validate-cmd.ts')).validateCommand,
  fuzz: async () => (await import('./fuzz-cmd.ts')).fuzzCommand,
  run: async () => (await import('./cases-cmd.ts')).runCommand,
  check: async () => (await import('./cases-cmd.ts')).checkCommand,
  trace: async () => (await import('./trace-cmd.ts')).traceCommand,
  lint: async () => (await import('./lint-cmd.ts')).lintCommand,
  doctor: async () => (await import('./doctor-cmd.ts')).doctorCommand,
  lab: async () => (await import('./lab-cmd.ts')).labCommand,
  snapshot: async () => (await import('./snapshot-cmd.ts')).snapshotCommand,
};

/** A Docker problem the user can fix (lab/docker-site.ts), known by name so that dockerode is not loaded here. */
const isDockerLabError = (e: unknown): e is Error => e instanceof Error && e.name === 'DockerLabError';

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
  const commandUsage = COMMAND_USAGE.get(name === 'help' ? (rest[0] ?? '') : (name ?? ''));
  if (commandUsage && (name === 'help' || asksForHelp(rest))) {
    write(commandUsage);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    write(USAGE);
    return name ? 0 : 2;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const { quote } = await import('../model/index.ts');
    io.err(`nfconform: unknown command ${quote(name)}\n${USAGE}`);
    return 2;
  }
  try {
    return await (
      await load()
    )(rest, write);
  } catch (e) {
    const { isInputError, safeMessage } = await import('../model/index.ts');
    if (isInputError(e) || isDockerLabError(e)) {
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
