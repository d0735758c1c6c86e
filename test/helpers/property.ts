// fc.assert inside vitest's test(), printing the seed and path to replay a failure.
// Replay: NFC_SEED=<seed> NFC_PATH=<path> npm test -- -t "<test name>"
import fc from 'fast-check';

function params<Ts>(p: fc.Parameters<Ts>): fc.Parameters<Ts> {
  const seed =
    p.seed ?? (process.env.NFC_SEED ? Number(process.env.NFC_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);
  const path = p.path ?? process.env.NFC_PATH;
  const run: fc.Parameters<Ts> = { ...p, seed };
  if (path) run.path = path;
  return run;
}

function report<Ts>(out: fc.RunDetails<Ts>): void {
  if (!out.failed) return;
  const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
  throw new Error(
    `property failed after ${out.numRuns} runs (${out.numShrinks} shrinks)\n` +
      `  replay: NFC_SEED=${out.seed} NFC_PATH=${out.counterexamplePath ?? ''}\n` +
      `  counterexample: ${fc.stringify(out.counterexample)}\n  cause: ${cause}`,
  );
}

export function assertProperty<Ts>(prop: fc.IProperty<Ts>, p: fc.Parameters<Ts> = {}): void {
  report(fc.check(prop, params(p)));
}

export async function assertAsyncProperty<Ts>(prop: fc.IAsyncProperty<Ts>, p: fc.Parameters<Ts> = {}): Promise<void> {
  report(await fc.check(prop, params(p)));
}
