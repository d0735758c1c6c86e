// `npm run validate-power`: how much of a broken dump `validate` catches. Each dump (the fixture, and
// current kube-proxy-shaped ones with nfacct, canary and firewall chains) is varied: every rule deleted
// in turn, and systematic edits (a wrong DNAT port, a wrong probability, a masquerade mark KUBE-POSTROUTING
// no longer sees). Each variant is validated (model; `--kernel`: model and kernel); a variant is caught
// when a Service fails. Equivalent variants (they cannot change what a packet meets) are listed with
// the reason and left out of the score. Target: >= 95% of the others caught.
import { readFileSync } from 'node:fs';
import { validateNode, type ValidationReport } from '../src/conform/validate.ts';
import { readCluster } from '../src/kube/objects.ts';
import { compileNode } from '../src/kube/compile.ts';
import { dumpVariants, type DumpVariant } from '../src/kube/dump-variants.ts';
import { nftDumpVariants } from '../src/conform/dump-variants-nft.ts';
import { readNftDump } from '../src/conform/validate-nft.ts';
import { nftOwner } from '../src/kube/nft-dump.ts';
import { SUITES_DIR } from '../src/conform/case-file.ts';
import { labSkipReason } from '../src/lab/prereq.ts';

const kernel = process.argv.includes('--kernel');
const fx = (f: string) => `${SUITES_DIR}fixtures/${f}`;
const services = readFileSync(fx('services.json'), 'utf8');
const features = readFileSync(fx('kube-proxy-features.json'), 'utf8');
const current = {
  clusterCIDR: '10.244.0.0/16',
  nodeIPs: ['192.168.50.10'],
  nfacct: true,
  canary: true,
  localhostNodePorts: true,
};

interface Dump {
  name: string;
  servicesText: string;
  servicesFile: string;
  text: string;
  variants: (text: string) => DumpVariant[];
  /** the Service a variant's line belongs to (nft: the chain or set it is in, or the chain it names) */
  ownerOf?: (v: DumpVariant) => string | undefined;
}

const NAMED = /(?:service|local|external|firewall|endpoint|affinity)-[A-Z2-7]{8}-[^\s]+/;
/** a real `nft list ruleset` of kube-proxy's nftables mode: the Service and endpoint a variant's line belongs to */
function nftDump(file: string, shape: string): Dump {
  const text = readFileSync(fx(file), 'utf8');
  const blocks = readNftDump(text, file);
  return {
    name: `fixture ${file} (nftables mode, ${shape})`,
    servicesText: services,
    servicesFile: fx('services.json'),
    text,
    variants: (t) => nftDumpVariants(t, file),
    ownerOf: (v) => nftOwner(blocks.blockOf(v.line) ?? '') ?? nftOwner(NAMED.exec(v.before)?.[0] ?? ''),
  };
}
const DUMPS: Dump[] = [
  {
    name: 'fixture node.iptables-save',
    servicesText: services,
    servicesFile: fx('services.json'),
    text: readFileSync(fx('node.iptables-save'), 'utf8'),
    variants: dumpVariants,
  },
  {
    name: 'current kube-proxy (nfacct, canary, firewall chains)',
    servicesText: services,
    servicesFile: fx('services.json'),
    text: compileNode(readCluster(services), { nodeName: 'node', ...current }),
    variants: dumpVariants,
  },
  {
    name: 'current kube-proxy, feature Services',
    servicesText: features,
    servicesFile: fx('kube-proxy-features.json'),
    text: compileNode(readCluster(features), { nodeName: 'node', ...current }),
    variants: dumpVariants,
  },
  nftDump('node.nft', 'kube-proxy 1.35'),
  nftDump('node-136.nft', 'kube-proxy 1.36'),
];

async function validate(d: Dump, text: string): Promise<ValidationReport> {
  const skip = kernel ? await labSkipReason('netns') : undefined;
  return validateNode({
    servicesText: d.servicesText,
    servicesFile: d.servicesFile,
    rulesetText: text,
    rulesetFile: d.name,
    nodeName: 'node',
    nodeIps: ['192.168.50.10'],
    podCIDR: '10.244.1.0/24',
    sides: kernel && !skip ? 'both' : 'model',
  });
}

interface Outcome {
  v: DumpVariant;
  caught?: string;
  flagged?: string;
  error?: string;
}

const rows: string[] = [];
let totalCaught = 0;
let totalScored = 0;
for (const d of DUMPS) {
  const base = await validate(d, d.text);
  const baseFails = base.services.filter((s) => s.status === 'fail');
  // a Service the model cannot judge (its chains hold what the model lacks): its variants are not scored
  const unjudged = new Set(base.services.filter((s) => s.status === 'unsupported').map((s) => s.service));
  if (baseFails.length) {
    console.error(
      `${d.name}: the unvaried dump does not pass (${baseFails.map((s) => s.service).join(', ')}); no score`,
    );
    process.exit(3);
  }
  const baseWarnings = new Set(base.warnings.map((w) => `${w.text} ${w.why}`));
  const outcomes: Outcome[] = [];
  for (const v0 of d.variants(d.text)) {
    const owner = d.ownerOf?.(v0);
    const v = owner && unjudged.has(owner) ? { ...v0, equivalent: `not scored: ${owner} is unsupported` } : v0;
    if (v.equivalent) {
      outcomes.push({ v });
      continue;
    }
    try {
      const r = await validate(d, v.text);
      const failed = r.services.find((s) => s.status === 'fail');
      const newWarning = r.warnings.find((w) => !baseWarnings.has(`${w.text} ${w.why}`));
      outcomes.push({
        v,
        ...(failed ? { caught: `${failed.service}: ${failed.failure!.label}` } : {}),
        ...(newWarning ? { flagged: `${newWarning.text}: ${newWarning.why}` } : {}),
      });
    } catch (e) {
      // the kernel or the parser refusing the variant is a catch too: the dump cannot be loaded
      outcomes.push({ v, caught: `refused: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  const scored = outcomes.filter((o) => !o.v.equivalent);
  // caught: a Service fails (exit 1), or a new warning names it (exit 1 under --strict)
  const caught = scored.filter((o) => o.caught || o.flagged);
  const byProbe = scored.filter((o) => o.caught);
  totalCaught += caught.length;
  totalScored += scored.length;
  const pct = scored.length ? (100 * caught.length) / scored.length : 100;
  console.log(`\n## ${d.name}`);
  console.log(
    `${outcomes.length} variants: ${outcomes.length - scored.length} equivalent,` +
      ` ${scored.length} scored, ${caught.length} caught (${pct.toFixed(1)}%):` +
      ` ${byProbe.length} by a failing probe, ${caught.length - byProbe.length} by a warning only` +
      ` (--strict)`,
  );
  for (const kind of ['delete', 'dnat-port', 'probability', 'masq-mark'] as const) {
    const k = scored.filter((o) => o.v.kind === kind);
    if (k.length) console.log(`  ${kind.padEnd(12)} ${k.filter((o) => o.caught || o.flagged).length}/${k.length}`);
  }
  const missed = scored.filter((o) => !o.caught && !o.flagged);
  if (missed.length) {
    console.log('missed:');
    for (const o of missed) console.log(`  ${o.v.id}: ${o.v.before.trim()}`);
  }
  const flaggedOnly = scored.filter((o) => !o.caught && o.flagged);
  if (flaggedOnly.length) {
    console.log('caught by a warning only (validate --strict exits 1):');
    for (const o of flaggedOnly) console.log(`  ${o.v.id}: ${o.v.before.trim()}\n      ${o.flagged}`);
  }
  console.log('equivalent:');
  for (const o of outcomes.filter((x) => x.v.equivalent))
    console.log(`  ${o.v.id}: ${o.v.before.trim()}\n      ${o.v.equivalent}`);
  if (process.argv.includes('--verbose'))
    for (const o of byProbe) console.log(`  caught ${o.v.id}: first failing probe ${o.caught}`);
  rows.push(
    `| ${d.name} | ${outcomes.length} | ${outcomes.length - scored.length} |` +
      ` ${byProbe.length} | ${caught.length - byProbe.length} |` +
      ` ${caught.length}/${scored.length} | ${pct.toFixed(1)}% |`,
  );
}
const pct = totalScored ? (100 * totalCaught) / totalScored : 100;
console.log(
  `\n| dump | variants | equivalent | by a failing probe | by a warning only | caught | %` +
    ` |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n| all | | | | |` +
    ` ${totalCaught}/${totalScored} | ${pct.toFixed(1)}% |`,
);
process.exit(pct >= 95 ? 0 : 1);
