// A kernel campaign over namespaces mixing native nft with iptables (src/conform/nft-mix-arbitraries.ts):
// every case on the model and the kernel; prints each divergence with its case (as JSON, for suites/).
// npx tsx scripts/nft-fuzz.ts [N=40] [SEED=20261201]
import fc from 'fast-check';
import { nftMixCase } from '../src/conform/nft-mix-arbitraries.ts';
import { runCases, LabPool } from '../src/conform/run-case.ts';

const n = Number(process.argv[2] ?? 40);
const seed = Number(process.argv[3] ?? 20261201);
const cases = fc
  .sample(nftMixCase, { numRuns: n, seed })
  .map((c, i) => ({ ...c, name: `nft mix #${i} (seed ${seed})` }));
const pool = new LabPool();
let diverged = 0;
let probes = 0;
let commands = 0;
const t0 = Date.now();
try {
  for (const c of cases) {
    const [r] = await runCases([c], { sides: 'both', pool });
    probes += c.steps.filter((s) => 'from' in s).length;
    commands += c.steps.filter((s) => 'nft' in s).length;
    const diffs = r!.steps.flatMap((s) =>
      s.diffs.map((d) => `${s.label}: ${d.field} model=${JSON.stringify(d.model)} kernel=${JSON.stringify(d.kernel)}`),
    );
    if (r!.error || diffs.length) {
      diverged++;
      console.log(`\n== ${c.name}: ${r!.error ?? ''}\n${diffs.join('\n')}\n${JSON.stringify(c, null, 1)}`);
    } else process.stdout.write('.');
  }
} finally {
  await pool.close();
}
const took = Math.round((Date.now() - t0) / 1000);
console.log(`\n${cases.length} cases, ${probes} probes, ${commands} nft steps, ${diverged} diverged, ${took} s`);
process.exit(diverged ? 1 : 0);
