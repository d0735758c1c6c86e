// `npm run mutants`: the suites and a bounded property campaign against each compiler mutant.
// Reports what killed each one and how long the first counterexample took.
import fc from 'fast-check';

// `--model`: the model mutants (src/model/mutants.ts) against a fuzz campaign, not the compiler mutants
if (process.argv.includes('--model')) {
  const { runModelMutants } = await import('./model-mutants.ts');
  process.exit(await runModelMutants(process.argv.slice(2)));
}
import { loadCase, findCaseFiles } from '../src/conform/case-file.ts';
import { runCases, LabPool, type Sides } from '../src/conform/run-case.ts';
import { serviceCaseArb, serviceCase } from '../src/conform/service-arbitraries.ts';
import { modeDiffArb } from '../src/conform/mode-diff.ts';
import { MUTANTS, applies, type CompilerMutant } from '../src/kube/mutants.ts';
import {
  kubeProxyVersionOf,
  DEFAULT_KUBE_PROXY_VERSION,
  type KubeProxyVersion,
} from '../src/kube/kube-proxy-version.ts';

const differs = (d: { field: string }): string => `${d.field} differs`;

const sides: Sides = process.argv.includes('--kernel') ? 'both' : 'model';
// `--nftables`: the Services compiled in kube-proxy's nftables mode, each mutant by its nftables-mode twin
const mode = process.argv.includes('--nftables') ? 'nftables' : 'iptables';
// `--kube-proxy-version 1.36|1.35` (with --nftables): the release whose table shape the twins mutate
const versionArg = process.argv[process.argv.indexOf('--kube-proxy-version') + 1];
const chosen = process.argv.includes('--kube-proxy-version')
  ? kubeProxyVersionOf(versionArg ?? '')
  : DEFAULT_KUBE_PROXY_VERSION;
if (!chosen) {
  console.error(`--kube-proxy-version must be 1.36 or 1.35, not ${JSON.stringify(versionArg)}`);
  process.exit(2);
}
const kubeProxyVersion: KubeProxyVersion = chosen;
const PROPERTY_CASES = 300;
// one lab for the whole run, reset between cases (kernel runs only)
const pool = new LabPool();
const suites = findCaseFiles()
  .map(loadCase)
  .filter((c) => c.services);
const property = fc
  .sample(mode === 'nftables' ? modeDiffArb(20) : serviceCaseArb(20), { numRuns: PROPERTY_CASES, seed: 4242 })
  .map((d, i) => serviceCase(d, `property case ${i + 1}`));

async function killer(mutant: CompilerMutant | undefined): Promise<{ by: string | undefined; ms: number }> {
  const t0 = performance.now();
  for (const c of suites) {
    const [r] = await runCases([c], { sides, pool, mode, kubeProxyVersion, ...(mutant ? { mutant } : {}) });
    if ([r!.model, r!.kernel, r!.agree, r!.oracle].includes('fail') || r!.error) {
      // the first thing that went wrong, on stderr: what the table's "killed by" rests on
      const s = r!.steps.find(
        (x) => x.modelMisses.length || x.kernelMisses.length || x.diffs.length || x.oracleMisses.length,
      );
      const why =
        r!.error ??
        (s
          ? `${s.label}: ${[...s.modelMisses, ...s.kernelMisses, ...s.oracleMisses, ...s.diffs.map(differs)][0]}`
          : '');
      process.stderr.write(`${mutant?.name ?? 'reference'}: ${c.name}: ${why.slice(0, 300)}\n`);
      return { by: `suite: ${c.name}`, ms: performance.now() - t0 };
    }
  }
  for (const c of property) {
    const [r] = await runCases([c], { sides, pool, mode, kubeProxyVersion, ...(mutant ? { mutant } : {}) });
    if (r!.oracle === 'fail' || r!.error) return { by: `property: ${c.name}`, ms: performance.now() - t0 };
  }
  return { by: undefined, ms: performance.now() - t0 };
}

const reference = await killer(undefined);
if (reference.by) {
  console.error(`the reference compiler fails: ${reference.by}`);
  await pool.close();
  process.exit(1);
}
console.log(
  `${suites.length} Service suites and ${PROPERTY_CASES} property cases, Services in ${mode} mode` +
    `${mode === 'nftables' ? ` (kube-proxy ${kubeProxyVersion})` : ''}, on` +
    ` ${sides === 'model' ? 'the model (judged by expectations and the oracle)' : 'the model and the kernel'}\n`,
);
console.log('| mutant | killed by | time to the first counterexample |');
console.log('|---|---|---|');
const times: number[] = [];
let killed = 0;
const mutants = MUTANTS.filter((x) => applies(x, mode));
for (const m of mutants) {
  const k = await killer(m);
  if (k.by) {
    killed++;
    times.push(k.ms);
  }
  console.log(
    `| ${m.name}: ${m.description} | ${k.by ?? '**survived**'} | ${k.by ? `${(k.ms / 1000).toFixed(2)} s` : '-'} |`,
  );
}
times.sort((a, b) => a - b);
const median = times.length ? times[Math.floor(times.length / 2)]! : NaN;
console.log(
  `\nkilled ${killed} of` +
    ` ${mutants.length} (${((100 * killed) / mutants.length).toFixed(0)}%) in ${mode} mode, median time to the` +
    ` first counterexample ${(median / 1000).toFixed(2)} s (goal: >= 95%, < 30 s)`,
);
await pool.close();
