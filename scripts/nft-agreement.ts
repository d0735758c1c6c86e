// npx tsx scripts/nft-agreement.ts [N] [SEED]: the nft parser against real nft (in unshare -n) over N
// generated rulesets; prints the counts, the agreement figure and the first disagreements.
import { nftAgreement, nftSamples } from '../src/conform/nft-agreement.ts';

const n = Number(process.argv[2] ?? 5000);
const seed = Number(process.argv[3] ?? 42);
const r = await nftAgreement(nftSamples(n, seed));
console.log(JSON.stringify({ seed, total: r.total, counts: r.counts, agreement: r.agreement }, null, 2));
for (const d of r.disagreements.slice(0, Number(process.env.SHOW ?? 5)))
  console.log(`\n--- ${d.kind}\n${d.text}--- model:\n${d.model}\n--- nft:\n${d.nft}`);
