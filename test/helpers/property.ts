// fc.assert inside vitest's test(), printing the seed and path to replay a failure.
// Replay: NFC_SEED=<seed> NFC_PATH=<path> npm test -- -t "<test name>"
import fc from 'fast-check';

export function assertProperty<Ts>(prop: fc.IRawProperty<Ts>, params: fc.Parameters<Ts> = {}): void {
  const seed = params.seed ?? (process.env.NFC_SEED ? Number(process.env.NFC_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);
  const path = params.path ?? process.env.NFC_PATH;
  const run: fc.Parameters<Ts> = { ...params, seed };
  if (path) run.path = path;
  const out = fc.check(prop, run) as fc.RunDetails<Ts>;
  if (out.failed) {
    const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(
      `property failed after ${out.numRuns} runs (${out.numShrinks} shrinks)\n` +
        `  replay: NFC_SEED=${out.seed} NFC_PATH=${out.counterexamplePath ?? ''}\n` +
        `  counterexample: ${fc.stringify(out.counterexample)}\n  cause: ${cause}`,
    );
  }
}
