// The iptables-mode vs nftables-mode campaign (spec/kube.md §2a): `npx tsx scripts/kube-modes.ts [RUNS] [SEED]`.
// Exit 1 when a probe differs in a way the documented differences do not explain.
import { modeDiff } from '../src/conform/mode-diff.ts';
import { kubeProxyVersionOf } from '../src/kube/kube-proxy-version.ts';

const runs = Number(process.argv[2] ?? 1000);
const seed = Number(process.argv[3] ?? 20261201);
const t0 = performance.now();
// a third argument, 1.36 or 1.35: the kube-proxy release whose nftables-mode shape is compiled (default the newest)
const version = process.argv[4] === undefined ? undefined : kubeProxyVersionOf(process.argv[4]);
if (process.argv[4] !== undefined && !version)
  throw new Error(`no kube-proxy version ${process.argv[4]}: 1.36 or 1.35`);
const r = await modeDiff(runs, seed, 12, version);
const s = ((performance.now() - t0) / 1000).toFixed(0);
process.stdout.write(
  `${r.sets} random Service sets (seed ${seed}; kube-proxy ${version ?? 'default'}; ${r.skipped} left out),` +
    ` ${r.probes} probes on the model in both modes` +
    ` (${r.sticky} repeated connections to ClientIP-affinity Services): ` +
    `${r.same} alike, ${r.documented} differ as documented, ${r.undocumented.length} undocumented (${s} s)\n`,
);
for (const u of r.undocumented.slice(0, 10))
  process.stdout.write(`- ${u.probe}\n  iptables: ${u.iptables.join(' | ')}\n  nftables: ${u.nftables.join(' | ')}\n`);
process.exitCode = r.undocumented.length ? 1 : 0;
