#!/usr/bin/env node
// nfconform's command line. Bad input exits 2 with file:line:col and the cause, never a stack trace.
// Each command's module is imported only when that command runs: Docker, fast-check and the lab cost
// hundreds of milliseconds to load, and `lint` or `--help` need none of them (bench "cli").
import { USAGE } from './usage.ts';

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
};

/** A Docker problem the user can fix (lab/docker-site.ts), known by name so that dockerode is not loaded here. */
const isDockerLabError = (e: unknown): e is Error => e instanceof Error && e.name === 'DockerLabError';

export async function main(argv: string[]): Promise<number> {
  const write = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    write(USAGE);
    return name ? 0 : 2;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`nfconform: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return await (
      await load()
    )(rest, write);
  } catch (e) {
    const { isInputError } = await import('../model/index.ts');
    if (isInputError(e) || isDockerLabError(e)) {
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
