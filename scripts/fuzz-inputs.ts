// npm run fuzz-inputs [-- --per-kind N] [--seed S]: mutated inputs of every kind at the loaders
// (test/helpers/mutated-inputs.ts). Prints the exit codes per kind, the slowest input and the peak
// memory; exits 1 on any exit-3 result, unlocated input error, input over 5 s or run over 512 MB.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { fuzzInputs } from '../test/helpers/mutated-inputs.ts';

const { values } = parseArgs({
  options: { 'per-kind': { type: 'string', default: '2000' }, seed: { type: 'string' } },
});
const seed = values.seed ? Number(values.seed) : Date.now() & 0x7fffffff;
const t0 = performance.now();
const r = await fuzzInputs(Number(values['per-kind']), seed);
let total = 0;
for (const [name, k] of Object.entries(r.kinds)) {
  total += k.inputs;
  const codes = Object.entries(k.codes)
    .map(([c, n]) => `exit ${c}: ${n}`)
    .join(', ');
  console.log(
    `${name.padEnd(15)} ${String(k.inputs).padStart(6)} inputs  ${codes}  worst` +
      ` ${k.worstMs.toFixed(0)} m` +
      `s${k.skipped ? `  (${k.skipped} command lines skipped: they would start a lab or write a file)` : ''}`,
  );
}
const grew = r.peakRssMb - r.baseRssMb;
console.log(
  `${total} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s, seed ${seed}; peak` +
    ` RSS ${r.peakRssMb.toFixed(0)} MB (+${grew.toFixed(0)} MB)`,
);
for (const f of r.failures.slice(0, 10))
  console.log(`FAIL ${f.kind}: ${f.message}\n  input: ${JSON.stringify(f.input.slice(0, 400))}`);
for (const s of r.slow.slice(0, 10))
  console.log(`SLOW ${s.kind}: ${s.ms.toFixed(0)} ms\n  input: ${JSON.stringify(s.input.slice(0, 400))}`);
if (r.failures.length) {
  writeFileSync('fuzz-inputs-failures.json', JSON.stringify(r.failures, null, 1));
  console.log('the failing inputs, whole: fuzz-inputs-failures.json');
}
process.exitCode = r.failures.length || r.slow.length || grew > 512 ? 1 : 0;
